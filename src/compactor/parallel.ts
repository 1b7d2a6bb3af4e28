// Runs file-system calls on many files a few at a time. One at a time, each call waits for its
// round trip through libuv's thread pool; an hour of the stream's files is 21,600 of them.

/** How many file-system calls on distinct files the compactor keeps in flight. */
export const FS_PARALLELISM = 16

/** Calls `work` for every item, at most `limit` at once; rejects with the first failure once all started calls settled. */
export async function forEachParallel<T>(
  items: Iterable<T>,
  limit: number,
  work: (item: T) => Promise<void>
): Promise<void> {
  const iterator = items[Symbol.iterator]()
  let failed = false
  let failure: unknown
  const worker = async (): Promise<void> => {
    for (let next = iterator.next(); !next.done && !failed; next = iterator.next()) {
      try {
        await work(next.value)
      } catch (error) {
        if (!failed) failure = error
        failed = true
      }
    }
  }
  await Promise.all(Array.from({ length: limit }, worker))
  if (failed) throw failure
}
