// The image's HEALTHCHECK. A role that serves HTTP (`stream`, `mirror`, `web`: the image sets
// CELLSTREAM_HTTP_PORT) is healthy while its /health answers 200; one that serves nothing
// (`compact`, one-shot commands) has nothing to probe, since its container ends when its
// process does.
const port = process.env.CELLSTREAM_HTTP_PORT ?? '8080'

try {
  const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(4000) })
  process.exitCode = response.ok ? 0 : 1
} catch (error) {
  const refused = (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED'
  process.exitCode = refused ? 0 : 1
}
