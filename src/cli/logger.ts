// The log of every command, on stderr (stdout is for results): JSON lines when stderr is not a
// terminal, for log collectors; readable lines on a terminal. Times are UTC, as everywhere.
// Parts of the pipeline do not log themselves: they take a `log` callback (componentLog).
import { pino, stdTimeFunctions, type Logger } from 'pino'
import pretty from 'pino-pretty'
import { redact } from '../lib/secrets.ts'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** What the parts report through: a level and a one-line message. */
export type LogCallback = (level: 'info' | 'warn' | 'error', message: string) => void

let root: Logger | undefined

/** Sets the level (and, for tests, the output) of every logger obtained afterwards. */
export function configureLogging(level: LogLevel, terminal = process.stderr.isTTY === true): void {
  root = terminal
    ? pino(
        { level, base: undefined, hooks: { streamWrite: redact } },
        pretty({
          destination: 2,
          sync: true,
          colorize: true,
          translateTime: 'UTC:HH:MM:ss',
          ignore: 'component',
          messageFormat: '{if component}{component}: {end}{msg}'
        })
      )
    : pino(
        {
          level,
          timestamp: stdTimeFunctions.isoTime,
          formatters: { level: label => ({ level: label }) },
          // Every line, whatever a part or a library put in it, leaves without known secrets.
          hooks: { streamWrite: redact }
        },
        pino.destination({ dest: 2, sync: true })
      )
}

export function logger(): Logger {
  if (root === undefined) configureLogging('info')
  return root!
}

/** A log callback for a part of the pipeline, its lines tagged with `component`. */
export function componentLog(component: string): LogCallback {
  return (level, message) => {
    logger()[level]({ component }, message)
  }
}
