// A rate per second from a growing count sampled now and then (offsets summed over
// partitions), over the last ten seconds or so, so that one slow refresh does not make it jump.

const SPAN_MS = 10_000

export class RateMeter {
  #samples: Array<{ at: number; count: number }> = []

  /** Adds a sample (`at` in epoch milliseconds); the rate since the oldest kept, undefined until two. */
  rate(at: number, count: number): number | undefined {
    const samples = this.#samples
    // A count that went down (a topic deleted and created again) starts over.
    if (samples.length > 0 && count < samples.at(-1)!.count) samples.length = 0
    samples.push({ at, count })
    // Keep one sample at least SPAN_MS old, and none older than that.
    while (samples.length > 2 && at - samples[1]!.at >= SPAN_MS) samples.shift()
    const first = samples[0]!
    return samples.length < 2 || at === first.at ? undefined : ((count - first.count) * 1000) / (at - first.at)
  }
}
