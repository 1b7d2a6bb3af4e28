// Interactive queries over HTTP, answered by any instance of the group:
//   GET /windows/<aggregation>?key=<key>   the key's windows (open ones included), from the
//                                          instance that holds them: this one, or the one it
//                                          forwards the question to
//   GET /windows/<aggregation>             every window of the aggregation, from every instance
//   GET /windows/<aggregation>?local=1     only what this instance holds
//   GET /instances                         the group's instances, their URLs and partitions
// Windows come as JSON: key, start, end (epoch ms), value, and emitted (false while open).
import type { InstanceQueries, WindowState } from '../runtime/queries.ts'
import { UnknownAggregation } from '../runtime/queries.ts'

export interface Answer {
  status: number
  body: unknown
}

/** What `queries` answers for a GET of `url`, or undefined when the path is not a query. */
export async function answerQuery(queries: InstanceQueries, url: URL): Promise<Answer | undefined> {
  if (url.pathname === '/instances') return { status: 200, body: await queries.instances() }
  const match = /^\/windows\/([^/]+)$/.exec(url.pathname)
  if (match === null) return undefined
  const aggregation = decodeURIComponent(match[1]!)
  const text = url.searchParams.get('key')
  const local = url.searchParams.get('local') === '1'
  try {
    if (text !== null) return await windowsOfKey(queries, aggregation, text, local)
    if (local) return { status: 200, body: queries.localWindows(aggregation) }
    return await allWindows(queries, aggregation)
  } catch (error) {
    if (error instanceof UnknownAggregation) return { status: 404, body: { error: error.message } }
    throw error
  }
}

async function windowsOfKey(
  queries: InstanceQueries,
  aggregation: string,
  text: string,
  local: boolean
): Promise<Answer> {
  const key = queries.parseKey(aggregation, text)
  const where = await queries.locate(aggregation, key)
  if (where.here) return { status: 200, body: queries.localWindows(aggregation, key) }
  if (local) return { status: 404, body: { error: `this instance does not hold key ${text} of ${aggregation}` } }
  if (where.url === undefined)
    return {
      status: 503,
      body: {
        error: `no instance announces the partition of key ${text} of ${aggregation} (the group may be rebalancing); ask again`
      }
    }
  return await forward(
    `${where.url}/windows/${encodeURIComponent(aggregation)}?key=${encodeURIComponent(text)}&local=1`
  )
}

/** Every instance's windows of the aggregation, merged in window order; an instance that does not answer is named. */
async function allWindows(queries: InstanceQueries, aggregation: string): Promise<Answer> {
  const windows: WindowState[] = queries.localWindows(aggregation)
  const missing: string[] = []
  const others = (await queries.instances()).filter(instance => !queries.isThis(instance.instance))
  for (const instance of others) {
    if (instance.url === undefined) {
      missing.push(instance.instance)
      continue
    }
    const answer = await forward(`${instance.url}/windows/${encodeURIComponent(aggregation)}?local=1`)
    if (answer.status === 200) windows.push(...(answer.body as WindowState[]))
    else missing.push(instance.instance)
  }
  windows.sort((a, b) => a.start - b.start)
  return missing.length === 0 ? { status: 200, body: windows } : { status: 206, body: { windows, missing } }
}

async function forward(url: string): Promise<Answer> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) })
    return { status: response.status, body: await response.json() }
  } catch (error) {
    return { status: 502, body: { error: `${url} did not answer: ${(error as Error).message}` } }
  }
}
