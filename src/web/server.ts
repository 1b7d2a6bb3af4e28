// The HTTP side of a running instance: Prometheus metrics and a health check.
//   GET /metrics  Prometheus text format
//   GET /health   200 {"status":"ok",…} while the processing loop runs, 503 once it stopped
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'

export interface HealthSource {
  /** Anything JSON; `status` must be 'ok' for a 200. */
  health (): { status: 'ok' | 'stopped' | 'starting', [detail: string]: unknown }
}

export async function startHttpServer (port: number, registry: Registry, source: HealthSource): Promise<{ server: Server, port: number }> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]
    if (request.method !== 'GET') {
      response.writeHead(405).end()
    } else if (path === '/metrics') {
      registry.metrics().then(text => {
        response.writeHead(200, { 'content-type': registry.contentType }).end(text)
      }, error => response.writeHead(500).end(String(error)))
    } else if (path === '/health') {
      const health = source.health()
      response.writeHead(health.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(health))
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /health\n')
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '0.0.0.0', () => resolve())
  })
  return { server, port: (server.address() as AddressInfo).port }
}
