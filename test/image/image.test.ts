// The image itself, as built by `npm run test:image`: Node 24, a non-root user, production
// dependencies only, tini in front of the CLI, and a HEALTHCHECK.
import test from 'ava'
import { readFile } from 'node:fs/promises'
import { podman } from './podman.ts'

const IMAGE = process.env.CELLSTREAM_IMAGE ?? 'localhost/cellstream:test'

interface ImageConfig {
  Config: { User: string; Entrypoint: string[]; Cmd: string[]; Env: string[] }
  Healthcheck?: { Test: string[] }
}

async function inside(script: string): Promise<string> {
  const result = await podman(['run', '--rm', '--read-only', '--entrypoint', 'sh', IMAGE, '-c', script])
  if (result.code !== 0) throw new Error(`${script}: ${result.stderr.trim()}`)
  return result.stdout.trim()
}

test('the image runs Node 24 as a non-root user, under tini, with a health check', async t => {
  const [config] = JSON.parse((await podman(['image', 'inspect', IMAGE])).stdout) as ImageConfig[]
  t.regex(config!.Config.User, /^[1-9]\d*:[1-9]\d*$/, 'numeric and not root')
  t.deepEqual(config!.Config.Entrypoint, ['tini', '--', 'node', 'bin/cellstream.ts'])
  t.deepEqual(config!.Healthcheck?.Test, ['CMD', 'node', 'deploy/healthcheck.ts'])
  t.is(await inside('id -u'), config!.Config.User.split(':')[0] ?? '')
  t.regex(await inside('node --version'), /^v24\./)
  t.regex(await inside('tini --version'), /^tini version/)
})

test('the image holds the production dependencies and none of the development ones', async t => {
  const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
    dependencies: Record<string, string>
    devDependencies: Record<string, string>
  }
  const present = async (names: string[]): Promise<string[]> =>
    (
      await inside(
        `cd node_modules && for p in ${names.join(' ')}; do [ -e "$p/package.json" ] && echo "$p"; done; true`
      )
    )
      .split('\n')
      .filter(Boolean)
  t.deepEqual(await present(Object.keys(manifest.dependencies)), Object.keys(manifest.dependencies))
  t.deepEqual(await present(Object.keys(manifest.devDependencies)), [])
  const help = await podman(['run', '--rm', '--read-only', IMAGE, 'stream', '--help'])
  t.is(help.code, 0, help.stderr)
  // The help text wraps its columns wherever the widest option puts them.
  t.regex(help.stdout.replace(/\s+/g, ' '), /env: CELLSTREAM_HTTP_PORT/)
})
