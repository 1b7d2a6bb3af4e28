// The `cellstream` command: wires concrete parts together. Errors the user can act on
// (CellstreamError, commander's usage errors) print one line; anything else is a bug.
import { Command, CommanderError } from 'commander'
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

export function buildProgram(): Command {
  const program = new Command('cellstream')
    .description('real-time and hourly mobile-antenna traffic analytics on Apache Kafka')
    .version('0.1.0')
    .showSuggestionAfterError(true)
  program.addCommand(kafkaCommand())
  program.addCommand(dbCommand())
  program.addCommand(demoCommand())
  program.addCommand(simulateCommand())
  program.addCommand(truthCommand())
  program.addCommand(compactCommand())
  program.addCommand(mirrorCommand())
  program.addCommand(streamCommand())
  program.addCommand(resetCommand())
  configureErrors(program)
  return program
}

/** Every subcommand reports usage errors as one line `cellstream: …` and exits with 2. */
function configureErrors(command: Command): void {
  command.exitOverride()
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
      process.stderr.write(`cellstream: ${error.message}\n`)
      return error.exitCode
    }
    throw error
  }
}
