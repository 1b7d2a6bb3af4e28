// Preloaded into `cellstream` by the memory settings tests: prints what the process runs with.
process.stderr.write(
  `settings: ${JSON.stringify({ pid: process.pid, execArgv: process.execArgv.filter(flag => !flag.startsWith('--import')), arenas: process.env.MALLOC_ARENA_MAX ?? null })}\n`
)
