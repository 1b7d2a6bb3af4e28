import test from 'ava'
import type { AddressInfo } from 'node:net'
import { Registry } from 'prom-client'
import { startHttpServer } from '../../src/web/server.ts'

test('the HTTP server listens on 127.0.0.1 unless told otherwise', async t => {
  const local = await startHttpServer({ port: 0 }, new Registry(), { status: () => ({ live: true, ready: true }) })
  t.teardown(() => local.server.close())
  t.is((local.server.address() as AddressInfo).address, '127.0.0.1')
  const everywhere = await startHttpServer({ host: '0.0.0.0', port: 0 }, new Registry(), {
    status: () => ({ live: true, ready: true })
  })
  t.teardown(() => everywhere.server.close())
  t.is((everywhere.server.address() as AddressInfo).address, '0.0.0.0')
})

test('/health follows liveness and /ready readiness, each with the status as JSON', async t => {
  let status: { live: boolean; ready: boolean; reason?: string } = {
    live: true,
    ready: false,
    reason: 'failing for 12 s, retrying: commit: ECONNREFUSED'
  }
  const { server, port } = await startHttpServer({ port: 0 }, new Registry(), { status: () => status })
  t.teardown(() => server.close())
  const get = async (path: string): Promise<[number, unknown]> => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`)
    return [response.status, await response.json()]
  }
  t.deepEqual(await get('/health'), [200, status], 'waiting out an outage is alive')
  t.deepEqual(await get('/ready'), [503, status], 'but not ready, with the reason')
  status = { live: true, ready: true }
  t.deepEqual(await get('/ready'), [200, status])
  status = { live: false, ready: false, reason: 'the processing loop has not turned for 200 s' }
  t.deepEqual(await get('/health'), [503, status])
})
