// What a benchmark child process reports to bench/run.ts: one line `RESULT {json}` on stdout,
// with its own peak resident memory and CPU time (all its threads) added.

export interface StageResult {
  /** Events (or rows, records) the stage handled. */
  events: number
  seconds: number
  /** Peak resident memory, MB. */
  peakRssMb?: number
  /** CPU time of the process, user and system, all threads, in seconds. */
  cpuSeconds?: number
  [detail: string]: unknown
}

/** Prints the result line, with this process's peak RSS and CPU time since it started. */
export function report(result: StageResult): void {
  const usage = process.resourceUsage()
  console.log(
    `RESULT ${JSON.stringify({ peakRssMb: Math.round(usage.maxRSS / 1024), cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6, ...result })}`
  )
}

/** The result line in a child's output. */
export function parseResult(stdout: string): StageResult {
  const line = stdout
    .split('\n')
    .reverse()
    .find(l => l.startsWith('RESULT '))
  if (line === undefined) throw new Error(`no RESULT line in:\n${stdout.slice(-2000)}`)
  return JSON.parse(line.slice('RESULT '.length)) as StageResult
}
