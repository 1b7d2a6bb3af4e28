// The record file format (`simulate --out`, `truth --in`): one record per line, `\n`-terminated.
// A line is the record's payload verbatim, so a file of valid records reads exactly like the
// original feed. Payloads that cannot be a line verbatim (not UTF-8, or holding CR/LF) are
// written as `#base64:` followed by their base64; an empty line is an empty payload.
import { createReadStream } from 'node:fs'
import { DataError, errorMessage } from '../lib/errors.ts'

export const BASE64_PREFIX = '#base64:'
const PREFIX_BYTES = Buffer.from(BASE64_PREFIX)
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The line (without its `\n`) that stands for `payload`. */
export function encodeLine(payload: string | Buffer): string {
  if (typeof payload === 'string') {
    return /[\r\n]/.test(payload) || payload.startsWith(BASE64_PREFIX)
      ? BASE64_PREFIX + Buffer.from(payload).toString('base64')
      : payload
  }
  if (isPlainText(payload)) return payload.toString('utf8')
  return BASE64_PREFIX + payload.toString('base64')
}

/** The payload a line (without its `\n`) stands for. A trailing CR (CRLF files) is dropped. */
export function decodeLine(line: Buffer): Buffer {
  const end = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length
  const body = line.subarray(0, end)
  if (body.length >= PREFIX_BYTES.length && body.subarray(0, PREFIX_BYTES.length).equals(PREFIX_BYTES)) {
    return Buffer.from(body.subarray(PREFIX_BYTES.length).toString('latin1'), 'base64')
  }
  return body
}

function isPlainText(payload: Buffer): boolean {
  if (payload.includes(0x0a) || payload.includes(0x0d)) return false
  try {
    utf8.decode(payload)
    return true
  } catch {
    return false
  }
}

/**
 * Reads a record file (or stdin for `-`) as payloads, one per line, streaming: memory stays
 * flat however large the file. `onBytes` reports progress in bytes read.
 */
export async function* readRecordFile(path: string, onBytes?: (bytes: number) => void): AsyncGenerator<Buffer> {
  for await (const payloads of readRecordChunks(path, onBytes)) yield* payloads
}

/** Like readRecordFile, a chunk of lines at a time: one await per megabyte, not per line. */
export async function* readRecordChunks(path: string, onBytes?: (bytes: number) => void): AsyncGenerator<Buffer[]> {
  const input = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20 })
  let rest: Buffer = Buffer.alloc(0)
  let read = 0
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      read += chunk.length
      onBytes?.(read)
      const data = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk
      const payloads: Buffer[] = []
      let start = 0
      for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
        payloads.push(decodeLine(data.subarray(start, nl)))
        start = nl + 1
      }
      rest = Buffer.from(data.subarray(start))
      yield payloads
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR')
      throw new DataError(`cannot read ${path}: ${errorMessage(error)}`, error)
    throw error
  }
  // A last line without its newline still counts.
  if (rest.length > 0) yield [decodeLine(rest)]
}
