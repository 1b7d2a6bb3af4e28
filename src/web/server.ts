// The HTTP side of a running instance: Prometheus metrics, liveness and readiness.
//   GET /metrics  Prometheus text format
//   GET /health   liveness: 200 while the processing loop turns, even while it waits out an
//                 outage (a restart would not help); 503 once it is stuck or stopped
//   GET /ready    readiness: 200 while the instance processes and commits; 503 with the reason
//                 while it starts, restores state or fails to commit, so that a balancer or
//                 Kubernetes stops counting on it meanwhile
//   GET /windows/…, /instances   interactive queries, when the source answers them (queries.ts)
// It listens on 127.0.0.1 unless told otherwise: metrics and state are nobody else's business
// until an operator opens them up (--http-host 0.0.0.0 in a container).
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import type { InstanceQueries } from '../runtime/queries.ts'
import { answerQuery } from './queries.ts'
import { redact } from '../lib/secrets.ts'

export interface StatusSource {
  /** The two verdicts, and any detail worth showing (sent as JSON). */
  status(): { live: boolean; ready: boolean; reason?: string }
  /** Interactive queries, once the source answers them. */
  readonly queries?: InstanceQueries
}

export const DEFAULT_HTTP_HOST = '127.0.0.1'

export async function startHttpServer(
  options: { host?: string; port: number },
  registry: Registry,
  source: StatusSource
): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost')
    const path = url.pathname
    const json = (code: number, body: unknown): void => {
      // Health reasons and errors may quote a message that held a secret.
      response.writeHead(code, { 'content-type': 'application/json' }).end(redact(JSON.stringify(body)))
    }
    if (request.method === 'GET' && (path === '/instances' || path.startsWith('/windows/'))) {
      const queries = source.queries
      if (queries === undefined) json(503, { error: 'not answering queries yet (starting)' })
      else
        answerQuery(queries, url).then(
          answer => json(answer?.status ?? 404, answer?.body ?? { error: 'not found' }),
          (error: unknown) => json(500, { error: String(error) })
        )
    } else if (request.method !== 'GET') {
      response.writeHead(405).end()
    } else if (path === '/metrics') {
      registry.metrics().then(
        text => {
          response.writeHead(200, { 'content-type': registry.contentType }).end(redact(text))
        },
        error => response.writeHead(500).end(redact(String(error)))
      )
    } else if (path === '/health') {
      const status = source.status()
      json(status.live ? 200 : 503, status)
    } else if (path === '/ready') {
      const status = source.status()
      json(status.ready ? 200 : 503, status)
    } else {
      response
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: try /metrics, /health, /ready, /instances or /windows/<aggregation>\n')
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host ?? DEFAULT_HTTP_HOST, () => resolve())
  })
  return { server, port: (server.address() as AddressInfo).port }
}
