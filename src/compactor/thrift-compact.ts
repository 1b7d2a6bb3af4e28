// Thrift's compact protocol, generically: enough to read a Parquet footer (FileMetaData), change
// a few fields and write it back. Fields keep their order and types, so a footer decoded and
// encoded again is byte for byte the same. Maps and sets never occur in Parquet footers and are
// rejected.

export const TType = {
  True: 1,
  False: 2,
  Byte: 3,
  I16: 4,
  I32: 5,
  I64: 6,
  Double: 7,
  Binary: 8,
  List: 9,
  Struct: 12
} as const

export type TType = (typeof TType)[keyof typeof TType]

export type TValue = boolean | number | bigint | Uint8Array | TList | TStruct

export interface TList {
  elementType: TType
  items: TValue[]
}

export interface TField {
  id: number
  type: TType
  value: TValue
}

export interface TStruct {
  fields: TField[]
}

export class ThriftError extends Error {}

export function decodeStruct(bytes: Uint8Array): TStruct {
  const reader = new Reader(bytes)
  const struct = reader.struct()
  if (reader.position !== bytes.length)
    throw new ThriftError(`${bytes.length - reader.position} bytes after the struct`)
  return struct
}

export function encodeStruct(struct: TStruct): Uint8Array {
  const writer = new Writer()
  writer.struct(struct)
  return writer.bytes()
}

export function field(struct: TStruct, id: number): TField | undefined {
  return struct.fields.find(f => f.id === id)
}

class Reader {
  position = 0
  readonly #bytes: Uint8Array
  readonly #view: DataView

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  struct(): TStruct {
    const fields: TField[] = []
    let last = 0
    for (;;) {
      const header = this.#byte()
      if (header === 0) return { fields }
      const type = (header & 0x0f) as TType
      const delta = header >> 4
      const id = delta === 0 ? Number(zigzag(this.#varint())) : last + delta
      last = id
      const value = type === TType.True ? true : type === TType.False ? false : this.value(type)
      fields.push({ id, type, value })
    }
  }

  value(type: TType): TValue {
    switch (type) {
      case TType.Byte:
        return this.#view.getInt8(this.#take(1))
      case TType.I16:
      case TType.I32:
        return Number(zigzag(this.#varint()))
      case TType.I64:
        return zigzag(this.#varint())
      case TType.Double:
        return this.#view.getFloat64(this.#take(8), true)
      case TType.Binary: {
        const length = Number(this.#varint())
        const start = this.#take(length)
        return this.#bytes.subarray(start, start + length)
      }
      case TType.List: {
        const header = this.#byte()
        const elementType = (header & 0x0f) as TType
        const size = header >> 4 === 15 ? Number(this.#varint()) : header >> 4
        if (elementType === TType.True || elementType === TType.False)
          throw new ThriftError('lists of booleans are not supported')
        const items: TValue[] = []
        for (let i = 0; i < size; i++) items.push(this.value(elementType))
        return { elementType, items }
      }
      case TType.Struct:
        return this.struct()
      default:
        throw new ThriftError(`unsupported type ${type}`)
    }
  }

  #take(length: number): number {
    const start = this.position
    if (start + length > this.#bytes.length) throw new ThriftError('truncated')
    this.position += length
    return start
  }

  #byte(): number {
    return this.#bytes[this.#take(1)]!
  }

  #varint(): bigint {
    let result = 0n
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const byte = this.#byte()
      result |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return result
    }
    throw new ThriftError('varint too long')
  }
}

class Writer {
  readonly #chunks: number[] = []

  bytes(): Uint8Array {
    return Uint8Array.from(this.#chunks)
  }

  struct(struct: TStruct): void {
    let last = 0
    for (const f of struct.fields) {
      const type =
        f.type === TType.True || f.type === TType.False ? (f.value === true ? TType.True : TType.False) : f.type
      const delta = f.id - last
      if (delta > 0 && delta <= 15) {
        this.#chunks.push((delta << 4) | type)
      } else {
        this.#chunks.push(type)
        this.#varint(unzigzag(BigInt(f.id)))
      }
      last = f.id
      if (type !== TType.True && type !== TType.False) this.value(type, f.value)
    }
    this.#chunks.push(0)
  }

  value(type: TType, value: TValue): void {
    switch (type) {
      case TType.Byte:
        this.#chunks.push((value as number) & 0xff)
        return
      case TType.I16:
      case TType.I32:
        this.#varint(unzigzag(BigInt(value as number)))
        return
      case TType.I64:
        this.#varint(unzigzag(value as bigint))
        return
      case TType.Double: {
        const bytes = new Uint8Array(8)
        new DataView(bytes.buffer).setFloat64(0, value as number, true)
        this.#chunks.push(...bytes)
        return
      }
      case TType.Binary: {
        const bytes = value as Uint8Array
        this.#varint(BigInt(bytes.length))
        for (const byte of bytes) this.#chunks.push(byte)
        return
      }
      case TType.List: {
        const list = value as TList
        if (list.items.length < 15) {
          this.#chunks.push((list.items.length << 4) | list.elementType)
        } else {
          this.#chunks.push(0xf0 | list.elementType)
          this.#varint(BigInt(list.items.length))
        }
        for (const item of list.items) this.value(list.elementType, item)
        return
      }
      case TType.Struct:
        this.struct(value as TStruct)
        return
      default:
        throw new ThriftError(`unsupported type ${type as number}`)
    }
  }

  #varint(value: bigint): void {
    let rest = value
    while (rest >= 0x80n) {
      this.#chunks.push(Number(rest & 0x7fn) | 0x80)
      rest >>= 7n
    }
    this.#chunks.push(Number(rest))
  }
}

function zigzag(n: bigint): bigint {
  return (n >> 1n) ^ -(n & 1n)
}

function unzigzag(n: bigint): bigint {
  return n >= 0n ? n << 1n : (-n << 1n) - 1n
}
