// The archive in an S3-compatible bucket (docs/archive.md, "Object storage"). Object stores
// have no rename and no links, so an hour is a manifest plus immutable objects:
//
//   PREFIX/year=YYYY/month=MM/day=DD/hour=HH/part-<topic>-<partition>-<first>-<last>.parquet
//   PREFIX/year=YYYY/month=MM/day=DD/hour=HH/v=N/compacted-YYYY-MM-DDTHH.parquet
//   PREFIX/year=YYYY/month=MM/day=DD/hour=HH/_manifest.json
//
// A writer's file appears whole or not at all (a PUT, or a multipart upload, is visible only
// once complete) under the same name as on disk. The manifest names the hour's current version:
// its compacted file, and the writer files that file replaced. The hour's data is the compacted
// file plus every writer file not replaced; the compactor switches an hour with one PUT of the
// manifest, which S3 makes atomic: readers see the old manifest or the new one, never a mix.
import { hourDir, hourLabel, isDataFile, parseHourDir } from './layout.ts'
import { S3Bucket, type ObjectInfo } from './s3-bucket.ts'

export const MANIFEST_NAME = '_manifest.json'
const VERSION_PREFIX = /^v=(\d+)\/(.+)$/
const HOUR_KEY = /^(year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2})\//

export interface Manifest {
  hour: string
  version: number
  /** The compacted file, relative to the hour (`v=N/compacted-….parquet`). */
  compacted: string
  /** Writer files the compacted file holds: no longer data, deleted by the sweep. */
  replaced: string[]
}

/** What an hour holds, from its manifest and one listing. */
export interface HourView {
  manifest: Manifest | undefined
  /** The hour's data: relative names of the compacted file (if any) and of the writer files it did not replace. */
  files: string[]
  /** Writer files the manifest replaced that are still there. */
  replaced: ObjectInfo[]
  /** Objects under a version the manifest does not name: an earlier version, or a killed compactor's upload. */
  strays: Array<ObjectInfo & { version: number }>
  /** The highest version any object or the manifest names. */
  lastVersion: number
}

export class S3Archive {
  readonly bucket: S3Bucket
  readonly prefix: string
  readonly url: string

  constructor(location: { bucket: string; prefix: string; url: string }, env: NodeJS.ProcessEnv = process.env) {
    this.bucket = new S3Bucket(location.bucket, env)
    this.prefix = location.prefix
    this.url = location.url
  }

  /** `PREFIX/year=…/hour=HH/`: the key prefix of the hour. */
  hourPrefix(hour: number): string {
    return `${this.prefix}${hourDir('', hour)}/`
  }

  /** Where a name relative to the hour lives, as a URL for messages. */
  describe(hour: number, name: string): string {
    return `s3://${this.bucket.bucket}/${this.hourPrefix(hour)}${name}`
  }

  async putFile(hour: number, name: string, path: string): Promise<void> {
    await this.bucket.putFile(this.hourPrefix(hour) + name, path)
  }

  async download(hour: number, name: string, path: string): Promise<void> {
    await this.bucket.download(this.hourPrefix(hour) + name, path)
  }

  async manifest(hour: number): Promise<Manifest | undefined> {
    const text = await this.bucket.getText(this.hourPrefix(hour) + MANIFEST_NAME)
    return text === undefined ? undefined : (JSON.parse(text) as Manifest)
  }

  /** The switch: one PUT, after which readers see the new version. */
  async publish(hour: number, manifest: Omit<Manifest, 'hour'>): Promise<void> {
    const body = JSON.stringify({ hour: hourLabel(hour), ...manifest })
    await this.bucket.putText(this.hourPrefix(hour) + MANIFEST_NAME, body + '\n')
  }

  async view(hour: number): Promise<HourView> {
    const prefix = this.hourPrefix(hour)
    let manifest = await this.manifest(hour)
    let objects: ObjectInfo[]
    for (;;) {
      objects = await this.bucket.list(prefix)
      // A compaction that switched the hour during the listing may have swept files the old
      // manifest counts as data: list again under the new one.
      const again = await this.manifest(hour)
      if (again?.version === manifest?.version) break
      manifest = again
    }
    const replacedNames = new Set(manifest?.replaced ?? [])
    const view: HourView = { manifest, files: [], replaced: [], strays: [], lastVersion: manifest?.version ?? 0 }
    for (const object of objects) {
      const name = object.key.slice(prefix.length)
      const versioned = VERSION_PREFIX.exec(name)
      if (versioned !== null) {
        const version = Number(versioned[1])
        view.lastVersion = Math.max(view.lastVersion, version)
        if (name === manifest?.compacted) view.files.push(name)
        else view.strays.push({ ...object, version })
      } else if (isDataFile(name)) {
        if (replacedNames.has(name)) view.replaced.push(object)
        else view.files.push(name)
      }
    }
    view.files.sort()
    return view
  }

  /**
   * Every hour of the archive, as UTC hour starts, oldest first. One listing of the whole
   * archive (a request per 1,000 objects): listing by delimiter, level by level, would take
   * fewer requests, but not every S3-compatible server answers it for nested prefixes.
   */
  async listHours(): Promise<number[]> {
    const hours = new Set<number>()
    for (const { key } of await this.bucket.list(this.prefix)) {
      const match = HOUR_KEY.exec(key.slice(this.prefix.length))
      const start = match === null ? undefined : parseHourDir(match[1]!)
      if (start !== undefined) hours.add(start)
    }
    return [...hours].sort((a, b) => a - b)
  }

  close(): void {
    this.bucket.close()
  }
}
