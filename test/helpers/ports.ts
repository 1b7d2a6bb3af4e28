// Free ports on loopback for the private servers some tests start (never the shared ones).
import { createServer } from 'node:net'

/** A port in [from, from + span) that is free now, and `port + also` too for each `also`. */
export async function freePort(from: number, span: number, also: number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = from + Math.floor(Math.random() * span)
    if ((await isFree(port)) && (await Promise.all(also.map(offset => isFree(port + offset)))).every(Boolean)) {
      return port
    }
  }
  throw new Error(`no free port in ${from}-${from + span - 1}`)
}

function isFree(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}
