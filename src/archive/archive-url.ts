// Where the archive lives: a local folder (docs/archive.md, "Layout") or a prefix in an
// S3-compatible bucket (docs/archive.md, "Object storage"). `--archive-url` takes either.
import { UsageError } from '../lib/errors.ts'

export type ArchiveLocation =
  | { kind: 'local'; dir: string }
  | {
      kind: 's3'
      bucket: string
      /** Key prefix of the archive inside the bucket: empty, or ending with `/`. */
      prefix: string
      /** `s3://bucket/prefix`, for messages (holds no credentials). */
      url: string
    }

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

/** `s3://bucket/prefix` or `s3://bucket`; anything else is a local folder (`file://` stripped). */
export function parseArchiveUrl(raw: string): ArchiveLocation {
  const value = raw.trim()
  if (value === '') throw new UsageError('--archive-url must not be empty')
  if (value.startsWith('file://')) return { kind: 'local', dir: decodeURIComponent(new URL(value).pathname) }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return { kind: 'local', dir: value }
  if (!value.toLowerCase().startsWith('s3://'))
    throw new UsageError(`--archive-url must be a folder or s3://bucket/prefix, got '${value}'`)
  const rest = value.slice('s3://'.length)
  const slash = rest.indexOf('/')
  const bucket = slash < 0 ? rest : rest.slice(0, slash)
  if (!BUCKET.test(bucket)) throw new UsageError(`--archive-url: '${bucket}' is not an S3 bucket name`)
  const path = slash < 0 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '')
  const prefix = path === '' ? '' : `${path}/`
  return { kind: 's3', bucket, prefix, url: `s3://${bucket}/${prefix}` }
}

/** The location for messages: the folder, or the s3:// URL. */
export function describeLocation(location: ArchiveLocation): string {
  return location.kind === 'local' ? location.dir : location.url
}
