// The `cellstream` command: wires concrete parts together. Errors the user can act on
// (CellstreamError, commander's usage errors) print one line; anything else is a bug.
import { Command, CommanderError, Option } from 'commander'
import { CellstreamError } from '../lib/errors.ts'
import { dbCommand } from './commands/db.ts'
import { kafkaCommand } from './commands/kafka.ts'
import { demoCommand } from './commands/demo.ts'
import { simulateCommand } from './commands/simulate.ts'
import { truthCommand } from './commands/truth.ts'
import { compactCommand } from './commands/compact.ts'
import { mirrorCommand } from './commands/mirror.ts'
import { streamCommand } from './commands/stream.ts'
import { resetCommand } from './commands/reset.ts'
import { webCommand } from './commands/web.ts'
import { tailCommand } from './commands/tail.ts'
import { configureLogging, logger, LOG_LEVELS, type LogLevel } from './logger.ts'
import {
  databasePasswordFileOption,
  kafkaSecurityOptions,
  kafkaSecuritySettings,
  type KafkaSecurityFlags
} from './shared-options.ts'
import { databaseUrlWithPasswordFile } from '../lib/config.ts'
import { configureKafkaSecurity, resolveKafkaSecurity } from '../kafka/security.ts'
import { redact, registerEnvSecrets, registerUrlSecret } from '../lib/secrets.ts'
import { inspect } from 'node:util'

export function buildProgram(): Command {
  const program = new Command('cellstream')
    .description('real-time and hourly mobile-antenna traffic analytics on Apache Kafka')
    .version('0.1.0')
    .showSuggestionAfterError(true)
    .addOption(
      new Option(
        '--log-level <level>',
        'least severe log lines shown (stderr: JSON lines, or readable lines on a terminal)'
      )
        .choices(LOG_LEVELS)
        .env('LOG_LEVEL')
        .default('info')
    )
    .hook('preAction', (command, action) => {
      configureLogging(command.opts<{ logLevel: LogLevel }>().logLevel)
      configureSecrets(action)
    })
  program.addCommand(kafkaCommand())
  program.addCommand(dbCommand())
  program.addCommand(demoCommand())
  program.addCommand(simulateCommand())
  program.addCommand(truthCommand())
  program.addCommand(compactCommand())
  program.addCommand(mirrorCommand())
  program.addCommand(streamCommand())
  program.addCommand(resetCommand())
  program.addCommand(webCommand())
  program.addCommand(tailCommand())
  addSecretOptions(program)
  configureErrors(program)
  return program
}

/**
 * Every command that talks to Kafka (it takes --brokers) takes the security options too, and
 * every one that talks to PostgreSQL the password file.
 */
function addSecretOptions(command: Command): void {
  const takes = (flag: string): boolean => command.options.some(o => o.long === flag)
  if (takes('--brokers')) for (const o of kafkaSecurityOptions()) command.addOption(o)
  if (takes('--database-url')) command.addOption(databasePasswordFileOption())
  for (const sub of command.commands) addSecretOptions(sub)
}

/**
 * Before a command runs: the secrets it was given are known to `redact` (which the log and
 * the error lines go through), its Kafka clients get their security, and a password given on
 * the command line, where every user of the machine can read it, is warned about.
 */
function configureSecrets(action: Command): void {
  registerEnvSecrets()
  const flags = action.opts<KafkaSecurityFlags & { databaseUrl?: string; databasePasswordFile?: string }>()
  const givenUrl = flags.databaseUrl
  if (
    flags.databaseUrl !== undefined &&
    flags.databasePasswordFile !== undefined &&
    flags.databasePasswordFile !== ''
  ) {
    const url = databaseUrlWithPasswordFile(flags.databaseUrl, flags.databasePasswordFile)
    action.setOptionValueWithSource('databaseUrl', url, action.getOptionValueSource('databaseUrl'))
  }
  registerUrlSecret(action.opts<{ databaseUrl?: string }>().databaseUrl)
  const fromCommandLine = (key: string): boolean => action.getOptionValueSource(key) === 'cli'
  if (fromCommandLine('databaseUrl') && givenUrl !== undefined && URL.parse(givenUrl)?.password)
    logger().warn(
      '--database-url holds a password, which other users of this machine can see: use DATABASE_URL, DATABASE_PASSWORD_FILE or PGPASSWORD'
    )
  if (fromCommandLine('kafkaSaslPassword'))
    logger().warn(
      '--kafka-sasl-password can be seen by other users of this machine: use KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE'
    )
  if (action.options.some(o => o.long === '--kafka-sasl-mechanism'))
    configureKafkaSecurity(resolveKafkaSecurity(kafkaSecuritySettings(flags)))
}

/**
 * Every subcommand reports usage errors as one line `cellstream: …` and exits with 2, and its
 * help lists the options every command takes (--log-level).
 */
function configureErrors(command: Command): void {
  command.exitOverride()
  command.configureHelp({ showGlobalOptions: true })
  command.configureOutput({
    outputError: (text, write) =>
      write(
        `cellstream: ${text
          .replace(/^error: /, '')
          .trim()
          .replaceAll('\n', ' ')} (see '${commandPath(command)} --help')\n`
      )
  })
  for (const sub of command.commands) configureErrors(sub)
}

function commandPath(command: Command): string {
  const names: string[] = []
  for (let c: Command | null = command; c !== null; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' })
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version also end here, with exit code 0.
      return error.exitCode === 0 ? 0 : 2
    }
    if (error instanceof CellstreamError) {
      process.stderr.write(`cellstream: ${redact(error.message)}\n`)
      return error.exitCode
    }
    // A bug: its stack, without any secret that its message or causes may hold.
    process.stderr.write(`${redact(inspect(error, { depth: 4 }))}\n`)
    return 1
  }
}
