// A fresh directory under the system temp dir, removed when the test ends.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ExecutionContext } from 'ava'

export async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-stores-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}
