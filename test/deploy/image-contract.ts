// What the deployment files ask of the image and its CLI: commands and their flags, the
// environment variables its options read, and the roles the image test starts.
import { readFile } from 'node:fs/promises'
import { type Command } from 'commander'
import { AWS_VARIABLES } from '../../src/archive/s3-bucket.ts'
import { buildProgram } from '../../src/cli/main.ts'
import { IMAGE_TEST_SERVICES } from '../image/services.ts'

/**
 * What the deployment files use that the CLI does not have yet, and what brings it. The checks
 * expect exactly these problems: once a pending piece lands, its entry must go (and the image
 * test start it), so nothing stays unchecked unnoticed.
 */
export const PENDING: Record<string, string> = {}

/** Roles beyond those the image test starts, which a pending command brings. */
export const PENDING_ROLES: string[] = []

/** The role of each service the image test starts, with the command it runs. */
export const ROLES: Record<string, readonly string[]> = IMAGE_TEST_SERVICES

/** Every environment variable that an option of some command reads, and those the object store's client reads. */
export function cliEnvironment(): Set<string> {
  const names = new Set<string>(AWS_VARIABLES)
  const visit = (command: Command): void => {
    for (const option of command.options) if (option.envVar !== undefined) names.add(option.envVar)
    command.commands.forEach(visit)
  }
  visit(buildProgram())
  return names
}

/** What is wrong with running the image with these arguments: unknown commands or flags. */
export function invocationProblems(args: readonly string[]): string[] {
  let command = buildProgram()
  let i = 0
  while (i < args.length && !args[i]!.startsWith('-') && command.commands.length > 0) {
    const sub = command.commands.find(c => c.name() === args[i])
    if (sub === undefined) return [`${args[i]}: no such command`]
    command = sub
    i++
  }
  const name = command.name()
  if (command.commands.length > 0) return [`${name}: needs a subcommand`]
  const problems: string[] = []
  for (; i < args.length; i++) {
    const arg = args[i]!
    if (!arg.startsWith('--')) {
      problems.push(`${name}: unexpected argument '${arg}'`)
      continue
    }
    const [flag, inline] = arg.split('=', 2)
    const option = command.options.find(o => o.long === flag)
    if (option === undefined) problems.push(`${name}: no flag ${flag}`)
    else if ((option.required || option.optional) && inline === undefined) i++
  }
  return problems
}

/** What the Dockerfile sets for the image: its `ENV` settings and its `USER` (uid:gid). */
export async function dockerfile(): Promise<{ env: Record<string, string>; user: string }> {
  const text = (await readFile(new URL('../../Dockerfile', import.meta.url), 'utf8')).replace(/\\\n/g, ' ')
  const env: Record<string, string> = {}
  let user = 'root'
  for (const line of text.split('\n')) {
    const [instruction, ...rest] = line.trim().split(/\s+/)
    if (instruction === 'USER') user = rest.join(' ')
    if (instruction !== 'ENV') continue
    for (const pair of rest) {
      const [key, value] = pair.split('=', 2)
      env[key!] = value ?? ''
    }
  }
  return { env, user }
}

/** The role of a deployed service: its name without a replica number (`stream-2` → `stream`). */
export function roleOf(service: string): string {
  return service.replace(/-\d+$/, '')
}
