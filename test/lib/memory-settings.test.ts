import { fileURLToPath } from 'node:url'
import test from 'ava'
import { cellstream } from '../helpers/cli.ts'

const REPORT = fileURLToPath(new URL('./report-settings.ts', import.meta.url))

interface Settings {
  pid: number
  execArgv: string[]
  arenas: string | null
}

/** What the process reported at each start, with report-settings.ts preloaded through NODE_OPTIONS. */
async function startsOf(
  args: string[],
  { nodeOptions = '', env = {} }: { nodeOptions?: string; env?: NodeJS.ProcessEnv } = {}
): Promise<Settings[]> {
  const { stderr } = await cellstream(args, {
    CELLSTREAM_MEMORY_SETTINGS: undefined,
    MALLOC_ARENA_MAX: undefined,
    ...env,
    NODE_OPTIONS: `--import ${REPORT} ${nodeOptions}`
  })
  return stderr
    .split('\n')
    .filter(line => line.startsWith('settings: '))
    .map(line => JSON.parse(line.slice('settings: '.length)) as Settings)
}

// An unreachable broker ends `stream` right after its start.
const STREAM = ['stream', '--brokers', '127.0.0.1:1']

test('stream starts itself again, in the same process, with a smaller young generation, heap growth and two malloc arenas', async t => {
  const [first, second, ...more] = await startsOf(STREAM)
  t.deepEqual(more, [])
  t.deepEqual(first!.execArgv, [])
  t.is(second!.pid, first!.pid)
  t.deepEqual(second!.execArgv, ['--max-semi-space-size=16', '--heap-growing-percent=100'])
  t.is(second!.arenas, '2')
})

test('a flag in NODE_OPTIONS and a variable already set win over the defaults', async t => {
  const starts = await startsOf(STREAM, { nodeOptions: '--max-semi-space-size=32', env: { MALLOC_ARENA_MAX: '4' } })
  t.is(starts.length, 2)
  t.deepEqual(starts[1]!.execArgv, ['--heap-growing-percent=100'])
  t.is(starts[1]!.arenas, '4')
})

test('CELLSTREAM_MEMORY_SETTINGS=off, and any other command, run as started', async t => {
  for (const [args, env] of [
    [STREAM, { CELLSTREAM_MEMORY_SETTINGS: 'off' }],
    [['simulate', '--help'], {}]
  ] as const) {
    const starts = await startsOf([...args], { env })
    t.is(starts.length, 1)
    t.deepEqual(starts[0]!.execArgv, [])
    t.is(starts[0]!.arenas, null)
  }
})
