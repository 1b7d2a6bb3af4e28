// Settings that keep a stream process's memory down but only take effect when a process
// starts: V8's young generation (by default up to 64 MB per semi-space under a steady
// allocation rate, whatever the live data) and glibc's malloc arenas (one per thread that
// allocates, each keeping what DuckDB and LevelDB freed on it). `cellstream stream` starts
// itself again, in the same process (execve), with the ones its user did not set
// (docs/memory.md).

/** V8 flags for the stream processor, by name. */
export const STREAM_NODE_FLAGS: Record<string, string> = {
  '--max-semi-space-size': '16',
  // A full collection once the old generation has doubled since the last, not several times over.
  '--heap-growing-percent': '100'
}
/** Environment for the stream processor. */
export const STREAM_ENVIRONMENT: Record<string, string> = { MALLOC_ARENA_MAX: '2' }
/** Set once the settings are applied, so the process starts itself again only once. */
const APPLIED = 'CELLSTREAM_MEMORY_SETTINGS'

/**
 * For `stream`, replaces this process with one that has the settings above, unless they are
 * applied already or the user turned them off (CELLSTREAM_MEMORY_SETTINGS=off). A flag given
 * on the command line or in NODE_OPTIONS, and a variable already set, win over the defaults.
 */
export function applyMemorySettings(args: readonly string[]): void {
  if (args[0] !== 'stream' || process.env[APPLIED] !== undefined || typeof process.execve !== 'function') return
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].map(flag =>
    flag.split('=')[0]!.replaceAll('_', '-')
  )
  const flags = Object.entries(STREAM_NODE_FLAGS)
    .filter(([name]) => !given.includes(name))
    .map(([name, value]) => `${name}=${value}`)
  const environment: NodeJS.ProcessEnv = { ...STREAM_ENVIRONMENT, ...process.env, [APPLIED]: 'applied' }
  process.execve(
    process.execPath,
    [process.execPath, ...flags, ...process.execArgv, process.argv[1]!, ...args],
    environment
  )
}
