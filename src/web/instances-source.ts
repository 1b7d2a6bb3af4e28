// What the dashboard reads from the running stream instances over HTTP: /health (liveness,
// readiness, commits, partitions) and a few counters of /metrics, counted since each instance
// started. The instances are the ones the group announces, unless given.
import type { Fetcher } from '../kafka/fetcher.ts'
import { errorMessage } from '../lib/errors.ts'
import { announcedInstances } from '../runtime/queries.ts'

const TIMEOUT_MS = 2000

export interface InstanceView {
  url: string
  /** 'ready', 'not ready' (see `reason`), 'stuck' (not live), or 'unreachable'. */
  status: 'ready' | 'not ready' | 'stuck' | 'unreachable'
  reason?: string
  commits: number | undefined
  assignment: string[]
  recordsIn: number | undefined
  windowsWritten: number | undefined
  error?: string
}

/** The base URLs the group's instances announce (`<group>-instances`); none before the first starts. */
export async function announcedUrls(fetcher: Fetcher, group: string): Promise<string[]> {
  try {
    return (await announcedInstances(fetcher, group)).flatMap(instance =>
      instance.url === undefined ? [] : [instance.url]
    )
  } catch {
    return []
  }
}

export async function readInstances(urls: readonly string[]): Promise<InstanceView[]> {
  return await Promise.all(urls.map(readInstance))
}

async function readInstance(url: string): Promise<InstanceView> {
  try {
    const [health, metrics] = await Promise.all([
      fetch(new URL('/health', url), { signal: AbortSignal.timeout(TIMEOUT_MS) }).then(
        response =>
          response.json() as Promise<{
            live?: boolean
            ready?: boolean
            reason?: string
            commits?: number
            assignment?: string[]
          }>
      ),
      fetch(new URL('/metrics', url), { signal: AbortSignal.timeout(TIMEOUT_MS) }).then(response => response.text())
    ])
    return {
      url,
      status: health.live === false ? 'stuck' : health.ready === true ? 'ready' : 'not ready',
      reason: health.reason,
      commits: health.commits,
      assignment: health.assignment ?? [],
      // A counter has no sample until it first counts.
      recordsIn: metricSum(metrics, 'cellstream_records_in_total') ?? 0,
      windowsWritten: metricSum(metrics, 'cellstream_windows_emitted_total') ?? 0
    }
  } catch (error) {
    return {
      url,
      status: 'unreachable',
      commits: undefined,
      assignment: [],
      recordsIn: undefined,
      windowsWritten: undefined,
      error: errorMessage(error)
    }
  }
}

/** The sum of a metric's samples over all its labels, in Prometheus text format; undefined when absent. */
export function metricSum(text: string, name: string): number | undefined {
  let sum: number | undefined
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue
    sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}
