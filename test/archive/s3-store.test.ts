// The archive's hours in object storage: what readers count from the manifest and a listing,
// and what the sweep deletes.
import test from 'ava'
import { Command } from 'commander'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArchiveUrl } from '../../src/archive/archive-url.ts'
import { hourStart } from '../../src/archive/layout.ts'
import { ABANDONED_UPLOAD_MS, sweepS3Hour } from '../../src/compactor/s3-compact.ts'
import { UsageError } from '../../src/lib/errors.ts'
import { archiveDirOption, archiveLocation, archiveUrlOption } from '../../src/cli/shared-options.ts'
import { readArchive } from '../../src/web/archive-source.ts'
import { openS3Archive } from '../helpers/s3-archive.ts'
import { startS3Server } from '../helpers/s3-server.ts'

test('--archive-url takes a folder, a file:// URL or s3://bucket/prefix, and refuses anything else', t => {
  t.deepEqual(parseArchiveUrl('./data/archive'), { kind: 'local', dir: './data/archive' })
  t.deepEqual(parseArchiveUrl('file:///srv/archive'), { kind: 'local', dir: '/srv/archive' })
  t.deepEqual(parseArchiveUrl('s3://my-bucket/a/b/'), {
    kind: 's3',
    bucket: 'my-bucket',
    prefix: 'a/b/',
    url: 's3://my-bucket/a/b/'
  })
  t.deepEqual(parseArchiveUrl('s3://my-bucket'), {
    kind: 's3',
    bucket: 'my-bucket',
    prefix: '',
    url: 's3://my-bucket/'
  })
  t.throws(() => parseArchiveUrl('gs://my-bucket/a'), { instanceOf: UsageError })
  t.throws(() => parseArchiveUrl('s3://B/a'), { instanceOf: UsageError })
  t.throws(() => parseArchiveUrl(' '), { instanceOf: UsageError })
})

test('--archive-url or ARCHIVE_URL names the archive; --archive-dir given on the command line wins over the variable, and an empty variable is unset', t => {
  const location = (argv: string[], env: Record<string, string>): unknown => {
    const saved = { ...process.env }
    Object.assign(process.env, env)
    try {
      const command = new Command('x').addOption(archiveDirOption()).addOption(archiveUrlOption()).exitOverride()
      command.parse(argv, { from: 'user' })
      return archiveLocation(command.opts<{ archiveDir: string; archiveUrl?: string }>(), command)
    } finally {
      for (const name of Object.keys(env)) if (saved[name] === undefined) delete process.env[name]
      Object.assign(process.env, saved)
    }
  }
  const bucket = { kind: 's3', bucket: 'b-1', prefix: 'p/', url: 's3://b-1/p/' }
  t.deepEqual(location(['--archive-url', 's3://b-1/p'], {}), bucket)
  t.deepEqual(location([], { ARCHIVE_URL: 's3://b-1/p' }), bucket)
  t.deepEqual(location(['--archive-dir', '/a'], { ARCHIVE_URL: 's3://b-1/p' }), { kind: 'local', dir: '/a' })
  t.deepEqual(location(['--archive-dir', '/a', '--archive-url', 's3://b-1/p'], {}), bucket)
  t.deepEqual(location([], { ARCHIVE_URL: '' }), { kind: 'local', dir: './data/archive' })
})

test('an hour is its manifest: the compacted file it names plus the writer files it did not replace; the sweep deletes the rest, uploads of no manifest once abandoned', async t => {
  const s3 = await startS3Server(t)
  const archive = openS3Archive(t, s3.url('store'), s3.env)
  const dir = await mkdtemp(join(tmpdir(), 'cellstream-s3-store-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'f')
  await writeFile(file, 'not read here')
  const hour = hourStart(Date.parse('2021-02-19T21:30:00Z') / 1000)
  t.deepEqual(await archive.listHours(), [])
  for (const name of [
    'part-devices-0-0-9.parquet',
    'part-devices-0-10-19.parquet',
    'v=1/compacted-2021-02-19T21.parquet'
  ])
    await archive.putFile(hour, name, file)
  t.deepEqual(await archive.listHours(), [hour])

  // No manifest: the writer files are the hour; an upload under a version is not (yet) data.
  let view = await archive.view(hour)
  t.deepEqual(view.files, ['part-devices-0-0-9.parquet', 'part-devices-0-10-19.parquet'])
  t.deepEqual(
    view.strays.map(s => s.version),
    [1]
  )
  t.is(view.lastVersion, 1)
  await sweepS3Hour(archive, hour)
  t.is(
    (await archive.view(hour)).strays.length,
    1,
    'a recent upload of no manifest stays: its compactor may be running'
  )

  // The switch: the compacted file and what it replaced; a file that arrived since stays data.
  await archive.putFile(hour, 'v=2/compacted-2021-02-19T21.parquet', file)
  await archive.publish(hour, {
    version: 2,
    compacted: 'v=2/compacted-2021-02-19T21.parquet',
    replaced: ['part-devices-0-0-9.parquet']
  })
  view = await archive.view(hour)
  t.deepEqual(view.files, ['part-devices-0-10-19.parquet', 'v=2/compacted-2021-02-19T21.parquet'])
  t.deepEqual(
    view.replaced.map(o => o.key.split('/').pop()),
    ['part-devices-0-0-9.parquet']
  )

  // An older version goes at once; the replaced file too, and the manifest forgets it.
  await archive.putFile(hour, 'v=3/compacted-2021-02-19T21.parquet', file)
  view = await sweepS3Hour(archive, hour)
  const keys = async (): Promise<string[]> =>
    (await archive.bucket.list(archive.hourPrefix(hour))).map(o => o.key.slice(archive.hourPrefix(hour).length)).sort()
  t.deepEqual(await keys(), [
    '_manifest.json',
    'part-devices-0-10-19.parquet',
    'v=2/compacted-2021-02-19T21.parquet',
    'v=3/compacted-2021-02-19T21.parquet'
  ])
  t.deepEqual((await archive.manifest(hour))?.replaced, [])
  t.deepEqual(view.files, ['part-devices-0-10-19.parquet', 'v=2/compacted-2021-02-19T21.parquet'])
  // The dashboard's view of it: compacted, and a writer file that arrived since.
  t.deepEqual(await readArchive(archive, 24, hour + 7200), [{ hour, files: 2, state: 'late files' }])
  // An upload of no manifest, once abandoned, goes too.
  await sweepS3Hour(archive, hour, Date.now() + ABANDONED_UPLOAD_MS + 60_000)
  t.deepEqual(await keys(), ['_manifest.json', 'part-devices-0-10-19.parquet', 'v=2/compacted-2021-02-19T21.parquet'])
})
