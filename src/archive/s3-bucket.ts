// The few object-storage operations the archive needs, on any S3-compatible store (AWS S3,
// Google Cloud Storage's XML API, MinIO, Ceph). The endpoint, region and credentials come from
// the usual AWS variables (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_PROFILE) through the SDK's default chain, so nothing here ever holds or prints a secret.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { createReadStream, createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import { errorMessage, UnavailableError } from '../lib/errors.ts'

/** The variables through which the SDK finds the store and its credentials (docs/archive.md). */
export const AWS_VARIABLES = [
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_S3',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE'
] as const

export interface ObjectInfo {
  key: string
  size: number
  lastModified: number
}

/** Parts of a multipart upload: the SDK's least is 5 MB; writer files are far smaller and go in one PUT. */
const PART_SIZE = 8 * 1024 * 1024
const PARALLEL_REQUESTS = 8

export class S3Bucket {
  readonly bucket: string
  readonly #client: S3Client
  readonly #where: string

  constructor(bucket: string, env: NodeJS.ProcessEnv = process.env) {
    this.bucket = bucket
    // Empty variables count as unset: compose files pass them through as `${NAME:-}`.
    const set = (name: (typeof AWS_VARIABLES)[number]): string | undefined =>
      env[name] === undefined || env[name] === '' ? undefined : env[name]
    const endpoint = set('AWS_ENDPOINT_URL_S3') ?? set('AWS_ENDPOINT_URL')
    this.#where = `bucket ${bucket}${endpoint === undefined ? '' : ` at ${withoutLogin(endpoint)}`}`
    this.#client = new S3Client({
      region: set('AWS_REGION') ?? set('AWS_DEFAULT_REGION') ?? 'us-east-1',
      ...(endpoint === undefined ? {} : { endpoint, forcePathStyle: true }),
      // The SDK's default chain reads the process's environment; a caller's own `env` is read here.
      ...(env !== process.env && env.AWS_ACCESS_KEY_ID !== undefined && env.AWS_SECRET_ACCESS_KEY !== undefined
        ? { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } }
        : {}),
      // Checksums only where S3 requires them: stores that speak the S3 API but not its newer
      // streaming checksums (several do) refuse uploads that carry them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 120_000 }
    })
  }

  /** Uploads a local file; multipart when large. The object appears whole or not at all. */
  async putFile(key: string, path: string): Promise<void> {
    await this.#guard(`uploading ${key}`, async () => {
      const upload = new Upload({
        client: this.#client,
        params: { Bucket: this.bucket, Key: key, Body: createReadStream(path) },
        partSize: PART_SIZE,
        queueSize: 4
      })
      await upload.done()
    })
  }

  async putText(key: string, text: string): Promise<void> {
    await this.#guard(`writing ${key}`, () =>
      this.#client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: text, ContentType: 'application/json' })
      )
    )
  }

  /** The object's text, or undefined when there is no such object. */
  async getText(key: string): Promise<string | undefined> {
    return await this.#guard(`reading ${key}`, async () => {
      try {
        const response = await this.#client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))
        return await response.Body!.transformToString('utf8')
      } catch (error) {
        if (isMissing(error)) return undefined
        throw error
      }
    })
  }

  /** Streams the object to a local file: never whole in memory. */
  async download(key: string, path: string): Promise<void> {
    await this.#guard(`downloading ${key}`, async () => {
      const response = await this.#client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))
      await pipeline(response.Body as Readable, createWriteStream(path))
    })
  }

  /** Every object under `prefix`, at any depth. */
  async list(prefix: string): Promise<ObjectInfo[]> {
    const objects: ObjectInfo[] = []
    let token: string | undefined
    do {
      const page = await this.#guard(`listing ${prefix}`, () =>
        this.#client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }))
      )
      for (const o of page.Contents ?? [])
        objects.push({ key: o.Key!, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 })
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined
    } while (token !== undefined)
    return objects
  }

  /** Deletes the objects, a few requests at a time; deleting a missing object succeeds. */
  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += PARALLEL_REQUESTS) {
      await Promise.all(
        keys
          .slice(i, i + PARALLEL_REQUESTS)
          .map(key =>
            this.#guard(`deleting ${key}`, () =>
              this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }))
            )
          )
      )
    }
  }

  close(): void {
    this.#client.destroy()
  }

  /**
   * Any failure (the store unreachable, a refused request) as one line naming the bucket and
   * the key: an outage to wait out for the stream, an hour to try again for the compactor.
   */
  async #guard<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work()
    } catch (error) {
      const code = (error as { code?: string }).code
      const name = error instanceof Error ? error.name : 'Error'
      throw new UnavailableError(
        `object storage (${this.#where}): ${what} failed: ${code ?? name}: ${errorMessage(error)}`,
        error
      )
    }
  }
}

/** An endpoint for messages: a login written into the URL stays out of them. */
function withoutLogin(endpoint: string): string {
  if (!URL.canParse(endpoint)) return '(an endpoint that is not a URL)'
  const url = new URL(endpoint)
  url.username = ''
  url.password = ''
  return url.origin + (url.pathname === '/' ? '' : url.pathname)
}

function isMissing(error: unknown): boolean {
  return error instanceof NoSuchKey || (error instanceof S3ServiceException && error.name === 'NoSuchKey')
}
