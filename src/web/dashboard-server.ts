// The dashboard over HTTP. Every asset is served from this package and its npm dependencies:
// machines without internet access show it too.
//   GET /                 the page (static/)
//   GET /vendor/echarts/  Apache ECharts, from node_modules
//   GET /api/snapshot     the latest snapshot (snapshot.ts), 503 until the first
//   GET /api/events       server-sent events: the latest snapshot, then each new one
//   GET /health           200 {"status":"ok"} while it runs
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ServerResponse } from 'node:http'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyStatic from '@fastify/static'
import { UsageError, errorMessage } from '../lib/errors.ts'
import type { Collector } from './collector.ts'
import type { Snapshot } from './snapshot.ts'
import { redact } from '../lib/secrets.ts'

export interface DashboardOptions {
  collector: Pick<Collector, 'collect'>
  host: string
  port: number
  /** Milliseconds between the end of one refresh and the start of the next. */
  refreshMs: number
  log?: (level: 'info' | 'warn' | 'error', message: string) => void
}

export interface Dashboard {
  url: string
  latest(): Snapshot | undefined
  close(): Promise<void>
}

const STATIC_DIR = fileURLToPath(new URL('static/', import.meta.url))
const ECHARTS_DIR = dirname(fileURLToPath(import.meta.resolve('echarts/dist/echarts.min')))

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const app = Fastify({ logger: false })
  const clients = new Set<ServerResponse>()
  let latest: Snapshot | undefined
  let latestJson = ''

  await app.register(fastifyStatic, { root: STATIC_DIR, prefix: '/' })
  await app.register(fastifyStatic, {
    root: ECHARTS_DIR,
    prefix: '/vendor/echarts/',
    decorateReply: false,
    maxAge: '1h'
  })
  app.get('/health', async () => ({ status: 'ok' }))
  app.get('/api/snapshot', async (_request, reply) => {
    if (latest === undefined) return await reply.code(503).send({ status: 'starting' })
    return await reply.type('application/json').send(latestJson)
  })
  app.get('/api/events', (request, reply) => {
    reply.hijack()
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive'
    })
    if (latest !== undefined) reply.raw.write(`data: ${latestJson}\n\n`)
    clients.add(reply.raw)
    request.raw.on('close', () => {
      clients.delete(reply.raw)
    })
  })

  let stopped = false
  let timer: NodeJS.Timeout | undefined
  const refresh = async (): Promise<void> => {
    try {
      latest = await options.collector.collect()
      // Its sources' errors are shown on the page; a secret in one of them is not.
      latestJson = redact(JSON.stringify(latest))
      for (const client of clients) client.write(`data: ${latestJson}\n\n`)
    } catch (error) {
      options.log?.('error', `dashboard refresh failed: ${errorMessage(error)}`)
    }
    if (!stopped)
      timer = setTimeout(() => {
        running = refresh()
      }, options.refreshMs)
  }

  await listen(app, options.host, options.port)
  let running = refresh()
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : options.port
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host
  return {
    url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}/`,
    latest: () => latest,
    close: async () => {
      stopped = true
      clearTimeout(timer)
      await running
      for (const client of clients) client.end()
      await app.close()
    }
  }
}

async function listen(app: FastifyInstance, host: string, port: number): Promise<void> {
  try {
    await app.listen({ host, port })
  } catch (error) {
    await app.close()
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE') throw new UsageError(`port ${port} on ${host} is in use; pick another with --http-port`)
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
      throw new UsageError(`cannot listen on ${host}: no such address here (--http-host)`)
    throw error
  }
}
