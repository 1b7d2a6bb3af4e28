// The ground truth of a record file (the format `cellstream simulate --out` writes), read
// line by line so memory holds only the totals.
import { readRecordChunks } from '../simulator/record-file.ts'
import { GroundTruth, type TruthOptions, type TruthResult } from './ground-truth.ts'

export interface FileTruthOptions extends TruthOptions {
  /**
   * Spread the records over this many partitions the way `simulate` spreads null-key records:
   * record n (from 0, counting every line) in partition n % partitions. Default 1.
   */
  partitions?: number
  onBytes?: (bytes: number) => void
}

export async function truthFromFile(path: string, options: FileTruthOptions = {}): Promise<TruthResult> {
  const truth = new GroundTruth(options)
  const partitions = options.partitions ?? 1
  let n = 0
  for await (const payloads of readRecordChunks(path, options.onBytes)) {
    for (const payload of payloads) {
      truth.add(payload, n % partitions)
      n++
    }
  }
  return truth.result()
}
