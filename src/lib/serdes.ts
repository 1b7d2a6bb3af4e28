// Serdes turn keys and values into the bytes that state stores, changelogs and internal
// topics hold. Stores order entries by these bytes, so a key serde decides iteration
// order: the fixed-width big-endian encodings below sort numerically (non-negative values).
import { DataError } from './errors.ts'

export interface Serde<T> {
  serialize(value: T): Buffer
  deserialize(bytes: Buffer): T
  /**
   * Optional fast path for keys: the serialized bytes as a latin1 string (one character per
   * byte), equal to `serialize(value).toString('latin1')` but built without a Buffer. Stores
   * index their in-memory tables by this string.
   */
  toBinaryString?(value: T): string
}

/** The serialized bytes of `value` as a latin1 string, through the serde's fast path when it has one. */
export function binaryString<T>(serde: Serde<T>, value: T): string {
  return serde.toBinaryString === undefined ? serde.serialize(value).toString('latin1') : serde.toBinaryString(value)
}

// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/

export const stringSerde: Serde<string> = {
  serialize: value => Buffer.from(value, 'utf8'),
  deserialize: bytes => bytes.toString('utf8'),
  // ASCII text is its own UTF-8 encoding, one byte per character.
  toBinaryString: value => (ASCII.test(value) ? value : Buffer.from(value, 'utf8').toString('latin1'))
}

/** The bytes themselves; callers must not mutate a buffer after handing it over. */
export const bufferSerde: Serde<Buffer> = {
  serialize: value => value,
  deserialize: bytes => bytes
}

export function jsonSerde<T>(): Serde<T> {
  return {
    serialize: value => Buffer.from(JSON.stringify(value), 'utf8'),
    deserialize: bytes => {
      try {
        return JSON.parse(bytes.toString('utf8')) as T
      } catch (error) {
        throw new DataError(`not JSON: ${describe(bytes)}`, error)
      }
    }
  }
}

const TWO_32 = 2 ** 32

/**
 * A safe integer as 8 bytes, big-endian two's complement, without going through BigInt.
 * Non-negative values sort numerically by their bytes; negative ones sort after them.
 */
export const int64Serde: Serde<number> = {
  serialize: value => {
    if (!Number.isSafeInteger(value)) throw new RangeError(`int64Serde takes a safe integer, got ${value}`)
    const bytes = Buffer.allocUnsafe(8)
    writeInt64(bytes, 0, value)
    return bytes
  },
  deserialize: bytes => {
    expectLength(bytes, 8, 'int64')
    const value = readInt64(bytes, 0)
    if (!Number.isSafeInteger(value)) throw new DataError(`int64 ${bytes.readBigInt64BE(0)} is not a safe integer`)
    return value
  },
  toBinaryString: value => {
    if (!Number.isSafeInteger(value)) throw new RangeError(`int64Serde takes a safe integer, got ${value}`)
    return int64BinaryString(value)
  }
}

export const bigint64Serde: Serde<bigint> = {
  serialize: value => {
    const bytes = Buffer.allocUnsafe(8)
    bytes.writeBigInt64BE(value)
    return bytes
  },
  deserialize: bytes => {
    expectLength(bytes, 8, 'int64')
    return bytes.readBigInt64BE(0)
  }
}

export function writeInt64(bytes: Buffer, offset: number, value: number): void {
  const high = Math.floor(value / TWO_32)
  bytes.writeInt32BE(high, offset)
  bytes.writeUInt32BE(value - high * TWO_32, offset + 4)
}

/** The 8 bytes `writeInt64` writes, as a latin1 string. */
export function int64BinaryString(value: number): string {
  const high = Math.floor(value / TWO_32)
  const low = value - high * TWO_32
  return String.fromCharCode(
    (high >>> 24) & 0xff,
    (high >>> 16) & 0xff,
    (high >>> 8) & 0xff,
    high & 0xff,
    (low >>> 24) & 0xff,
    (low >>> 16) & 0xff,
    (low >>> 8) & 0xff,
    low & 0xff
  )
}

export function readInt64(bytes: Buffer, offset: number): number {
  return bytes.readInt32BE(offset) * TWO_32 + bytes.readUInt32BE(offset + 4)
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A UUID string as its 16 bytes (less than half the size of the text); reads back lower case. */
export const uuidSerde: Serde<string> = {
  serialize: value => {
    if (!UUID.test(value)) throw new RangeError(`not a UUID: '${value}'`)
    return Buffer.from(value.replaceAll('-', ''), 'hex')
  },
  deserialize: bytes => {
    expectLength(bytes, 16, 'UUID')
    const hex = bytes.toString('hex')
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  }
}

type Serdes<T extends readonly unknown[]> = { readonly [I in keyof T]: Serde<T[I]> }

/**
 * A tuple as its parts, each but the last preceded by its length (4 bytes), so that a tuple
 * of variable-width parts still reads back unambiguously. Tuples with equal leading parts
 * share a byte prefix, so they are adjacent in a store.
 */
export function tupleSerde<T extends readonly unknown[]>(...serdes: Serdes<T>): Serde<T> {
  const parts = serdes as readonly Serde<unknown>[]
  const last = parts.length - 1
  const serde: Serde<T> = {
    serialize: value => {
      const chunks = parts.map((part, i) => part.serialize(value[i]))
      let size = 4 * last
      for (const chunk of chunks) size += chunk.length
      const bytes = Buffer.allocUnsafe(size)
      let offset = 0
      for (let i = 0; i <= last; i++) {
        const chunk = chunks[i]!
        if (i < last) offset = bytes.writeUInt32BE(chunk.length, offset)
        offset += chunk.copy(bytes, offset)
      }
      return bytes
    },
    deserialize: bytes => {
      const value: unknown[] = []
      let offset = 0
      for (let i = 0; i <= last; i++) {
        let end = bytes.length
        if (i < last) {
          if (offset + 4 > bytes.length) throw new DataError(`tuple of ${parts.length} cut short: ${describe(bytes)}`)
          end = offset + 4 + bytes.readUInt32BE(offset)
          offset += 4
          if (end > bytes.length) throw new DataError(`tuple of ${parts.length} cut short: ${describe(bytes)}`)
        }
        value.push(parts[i]!.deserialize(bytes.subarray(offset, end)))
        offset = end
      }
      return value as unknown as T
    }
  }
  if (parts.every(part => part.toBinaryString !== undefined)) {
    serde.toBinaryString = value => {
      let text = ''
      for (let i = 0; i <= last; i++) {
        const chunk = parts[i]!.toBinaryString!(value[i])
        text += i < last ? uint32BinaryString(chunk.length) + chunk : chunk
      }
      return text
    }
  }
  return serde
}

function uint32BinaryString(value: number): string {
  return String.fromCharCode((value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff)
}

function expectLength(bytes: Buffer, length: number, what: string): void {
  if (bytes.length !== length)
    throw new DataError(`${what} must be ${length} bytes, got ${bytes.length}: ${describe(bytes)}`)
}

function describe(bytes: Buffer): string {
  const hex = bytes.subarray(0, 32).toString('hex')
  return bytes.length > 32 ? `0x${hex}…` : `0x${hex}`
}
