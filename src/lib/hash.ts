// Kafka's murmur2 partitioner hash, so that a key lands on the partition a Java client
// would choose for it too (useful when another system writes to our internal topics).

export function murmur2(data: Buffer): number {
  const m = 0x5bd1e995
  let h = (0x9747b28c ^ data.length) | 0
  const length4 = data.length & ~3
  for (let i = 0; i < length4; i += 4) {
    let k =
      (data[i]! & 0xff) | ((data[i + 1]! & 0xff) << 8) | ((data[i + 2]! & 0xff) << 16) | ((data[i + 3]! & 0xff) << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m)
    h ^= k
  }
  const rest = data.length & 3
  if (rest === 3) h ^= (data[length4 + 2]! & 0xff) << 16
  if (rest >= 2) h ^= (data[length4 + 1]! & 0xff) << 8
  if (rest >= 1) {
    h ^= data[length4]! & 0xff
    h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

/** The partition Kafka's default partitioner picks for a keyed record. */
export function partitionForKey(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions
}
