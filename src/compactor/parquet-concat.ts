// Concatenates Parquet files of one schema into one file by copying their row groups' bytes:
// no page is decoded, decompressed or compressed again, so it costs little more than the copy.
// Row groups, pages, statistics and bloom filters stay valid as they are; only the positions
// in the footer move. Page indexes hold positions inside their own bytes, so they are left out.
// (Parquet layout: "PAR1", row groups and other blocks, the footer (Thrift FileMetaData), its
// length as 4 bytes little-endian, "PAR1".)
import { open, type FileHandle } from 'node:fs/promises'
import { decodeStruct, encodeStruct, field, TType, type TField, type TList, type TStruct } from './thrift-compact.ts'

const MAGIC = Buffer.from('PAR1')
const ZSTD = 6
const COPY_BUFFER = 8 << 20

// Field ids of parquet.thrift.
const FILE = { schema: 2, numRows: 3, rowGroups: 4, encryption: 8 }
const ROW_GROUP = { columns: 1, numRows: 3, fileOffset: 5, ordinal: 7 }
const CHUNK = {
  filePath: 1,
  fileOffset: 2,
  metaData: 3,
  offsetIndexOffset: 4,
  offsetIndexLength: 5,
  columnIndexOffset: 6,
  columnIndexLength: 7,
  crypto: 8,
  encryptedMetaData: 9
}
const META = { codec: 4, dataPageOffset: 9, indexPageOffset: 10, dictionaryPageOffset: 11, bloomFilterOffset: 14 }

export interface ParquetFooter {
  path: string
  /** Where the footer starts: the data to copy is [4, dataEnd). */
  dataEnd: number
  metadata: TStruct
}

export async function readFooter(path: string): Promise<ParquetFooter> {
  const handle = await open(path, 'r')
  try {
    const { size } = await handle.stat()
    if (size < 12) throw new Error(`${path} is too small to be a Parquet file`)
    const head = await readAt(handle, 0, 4)
    const tail = await readAt(handle, size - 8, 8)
    if (!head.equals(MAGIC) || !tail.subarray(4).equals(MAGIC)) throw new Error(`${path} is not a Parquet file`)
    const length = tail.readUInt32LE(0)
    const dataEnd = size - 8 - length
    if (dataEnd < 4) throw new Error(`${path} has a footer longer than the file`)
    return { path, dataEnd, metadata: decodeStruct(await readAt(handle, dataEnd, length)) }
  } finally {
    await handle.close()
  }
}

export function footerRows(footer: ParquetFooter): bigint {
  return field(footer.metadata, FILE.numRows)?.value as bigint
}

/** The file's schema, encoded: two files can be concatenated when these bytes are equal. */
export function schemaBytes(footer: ParquetFooter): Uint8Array {
  return encodeStruct({ fields: [field(footer.metadata, FILE.schema)!] })
}

export function rowGroupSizes(footer: ParquetFooter): bigint[] {
  return rowGroups(footer).map(group => field(group, ROW_GROUP.numRows)!.value as bigint)
}

/**
 * Whether the file's bytes can go into a compacted file as they are: the given schema, every
 * column chunk compressed with ZSTD, inside this file, not encrypted.
 */
export function isPlainZstd(footer: ParquetFooter, schema: Uint8Array): boolean {
  if (field(footer.metadata, FILE.encryption) !== undefined) return false
  if (!Buffer.from(schemaBytes(footer)).equals(schema)) return false
  return rowGroups(footer).every(group =>
    chunks(group).every(chunk => {
      const meta = field(chunk, CHUNK.metaData)?.value as TStruct | undefined
      return (
        meta !== undefined &&
        field(chunk, CHUNK.filePath) === undefined &&
        field(chunk, CHUNK.crypto) === undefined &&
        field(chunk, CHUNK.encryptedMetaData) === undefined &&
        field(meta, META.codec)?.value === ZSTD
      )
    })
  )
}

/** Writes the files' row groups, in order, to `target`. All files must share one schema. Returns the rows written. */
export async function concatParquet(footers: readonly ParquetFooter[], target: string): Promise<bigint> {
  const schema = schemaBytes(footers[0]!)
  if (footers.some(f => !Buffer.from(schemaBytes(f)).equals(schema)))
    throw new Error('files with different schemas cannot be concatenated')
  const out = await open(target, 'w')
  try {
    let position = 0
    const write = async (bytes: Uint8Array): Promise<void> => {
      await out.write(bytes, 0, bytes.length, position)
      position += bytes.length
    }
    await write(MAGIC)
    const groups: TStruct[] = []
    let rows = 0n
    const buffer = Buffer.allocUnsafe(COPY_BUFFER)
    for (const footer of footers) {
      const shift = BigInt(position - 4)
      const input = await open(footer.path, 'r')
      try {
        for (let from = 4; from < footer.dataEnd;) {
          const { bytesRead } = await input.read(buffer, 0, Math.min(COPY_BUFFER, footer.dataEnd - from), from)
          if (bytesRead === 0) throw new Error(`${footer.path} ended early`)
          await write(buffer.subarray(0, bytesRead))
          from += bytesRead
        }
      } finally {
        await input.close()
      }
      for (const group of rowGroups(footer)) groups.push(moveRowGroup(group, shift, groups.length))
      rows += footerRows(footer)
    }
    const metadata: TStruct = {
      fields: footers[0]!.metadata.fields.map(f =>
        f.id === FILE.numRows
          ? { ...f, value: rows }
          : f.id === FILE.rowGroups
            ? { ...f, value: { elementType: TType.Struct, items: groups } }
            : f
      )
    }
    const encoded = encodeStruct(metadata)
    const length = Buffer.alloc(4)
    length.writeUInt32LE(encoded.length, 0)
    await write(encoded)
    await write(length)
    await write(MAGIC)
    return rows
  } finally {
    await out.close()
  }
}

function moveRowGroup(group: TStruct, shift: bigint, ordinal: number): TStruct {
  const fields: TField[] = []
  for (const f of group.fields) {
    if (f.id === ROW_GROUP.columns) {
      const list = f.value as TList
      fields.push({ ...f, value: { ...list, items: list.items.map(chunk => moveChunk(chunk as TStruct, shift)) } })
    } else if (f.id === ROW_GROUP.fileOffset) {
      fields.push(moved(f, shift))
    } else if (f.id === ROW_GROUP.ordinal) {
      // A 16-bit number; past that, the field is optional and left out.
      if (ordinal <= 0x7fff) fields.push({ ...f, value: ordinal })
    } else {
      fields.push(f)
    }
  }
  return { fields }
}

function moveChunk(chunk: TStruct, shift: bigint): TStruct {
  const dropped = new Set([
    CHUNK.offsetIndexOffset,
    CHUNK.offsetIndexLength,
    CHUNK.columnIndexOffset,
    CHUNK.columnIndexLength
  ])
  const offsets = new Set([
    META.dataPageOffset,
    META.indexPageOffset,
    META.dictionaryPageOffset,
    META.bloomFilterOffset
  ])
  return {
    fields: chunk.fields
      .filter(f => !dropped.has(f.id))
      .map(f => {
        if (f.id === CHUNK.fileOffset) return moved(f, shift)
        if (f.id !== CHUNK.metaData) return f
        const meta = f.value as TStruct
        return { ...f, value: { fields: meta.fields.map(m => (offsets.has(m.id) ? moved(m, shift) : m)) } }
      })
  }
}

// Writers that do not fill a position leave 0 there; it stays 0.
function moved(f: TField, shift: bigint): TField {
  return f.type === TType.I64 && f.value !== 0n ? { ...f, value: (f.value as bigint) + shift } : f
}

function rowGroups(footer: ParquetFooter): TStruct[] {
  return ((field(footer.metadata, FILE.rowGroups)?.value as TList | undefined)?.items ?? []) as TStruct[]
}

function chunks(group: TStruct): TStruct[] {
  return (field(group, ROW_GROUP.columns)!.value as TList).items as TStruct[]
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length)
  const { bytesRead } = await handle.read(buffer, 0, length, position)
  if (bytesRead !== length) throw new Error('unexpected end of file')
  return buffer
}
