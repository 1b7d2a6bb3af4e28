import test from 'ava'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { databaseUrlWithPasswordFile } from '../../src/lib/config.ts'
import { UsageError } from '../../src/lib/errors.ts'

test('DATABASE_PASSWORD_FILE fills in the password of a URL without one, or the same one; another is refused', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'password')
  await writeFile(file, 'p@ss/word:1\n')
  const filled = databaseUrlWithPasswordFile('postgres://app@db:5432/cellstream?sslmode=require', file)
  t.is(filled, 'postgres://app:p%40ss%2Fword%3A1@db:5432/cellstream?sslmode=require')
  t.is(decodeURIComponent(new URL(filled).password), 'p@ss/word:1')
  t.is(databaseUrlWithPasswordFile(filled, file), filled, 'a URL passed on with the same password')
  t.is(new URL(databaseUrlWithPasswordFile('postgres://db/cellstream', file)).username, 'postgres')
  t.throws(() => databaseUrlWithPasswordFile('postgres://app:other@db/cellstream', file), {
    instanceOf: UsageError,
    message: /not both/
  })
  t.throws(() => databaseUrlWithPasswordFile('postgres://app@db/cellstream', join(dir, 'missing')), {
    instanceOf: UsageError,
    message: /^DATABASE_PASSWORD_FILE: cannot read /
  })
})
