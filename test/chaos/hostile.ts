// Hostile flood: the simulator's bad records (every kind `--bad-ratio` makes) and generated
// hostile ones mixed into valid traffic. Nothing may crash or stall; every bad record must
// reach `<input>-dlq` once, with its original bytes and the reason the ground truth gives;
// every valid one must be counted exactly.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { headerValue } from '../../src/kafka/fetcher.ts'
import { DEAD_LETTER_HEADERS } from '../../src/runtime/source-task.ts'
import { decodeLine, encodeLine } from '../../src/simulator/record-file.ts'
import { readTopic } from '../helpers/kafka.ts'
import { hostileRecord, nearLimit } from './hostile-records.ts'
import { simulateFile, type TrafficOptions } from './input.ts'
import type { Rig } from './rig.ts'
import type { ScenarioSpec, Setup, Sizes } from './scenario.ts'
import { awaitSpeedLayer } from './verify.ts'

const NAMES = ['a', 'b']
/** Share of the simulator's own records that are bad; the rest of the bad ones are generated. */
const BAD_RATIO = 0.1
/** Payloads near the broker's size limit in the full and the short version. */
const NEAR_LIMIT_COUNT = { full: 20, short: 2 }

const traffic = (sizes: Sizes): TrafficOptions => ({
  seed: 'chaos-hostile',
  events: Math.ceil(sizes.events / 2),
  rate: 100,
  badRatio: BAD_RATIO
})

export const hostile: ScenarioSpec = {
  name: 'hostile',
  // Half simulated (a tenth of it bad), half generated hostile records: 160,000 bad in full.
  events: { full: 300_000, short: 8_000 },
  traffic,
  makeInput: async (rig: Rig, sizes: Sizes) => await mixedInput(rig, sizes),
  inject: async (setup: Setup, sizes: Sizes) => {
    const { fleet, journal, rig, truth } = setup
    const records = (await fileLines(setup.file)).map(decodeLine)
    for (const name of NAMES) await fleet.start(name)
    const input = setup.feed(Math.ceil(records.length / (sizes.short ? 30 : 120)))
    journal.note(`fed ${await input.done} records`)
    if (!(await awaitSpeedLayer(rig, truth, 300_000)))
      setup.fail('the speed layer made no progress for 300 s before reaching the truth')
    for (const name of NAMES) {
      const status = await fleet.status(name)
      if (!(fleet.instances.get(name)?.running ?? false) || status?.live !== true)
        setup.fail(`${name} is not running and live at the end`)
    }
    const letters = await readTopic(`${rig.input}-dlq`)
    const reasons: Record<string, number> = {}
    let altered = 0
    for (const letter of letters) {
      const reason = headerValue(letter, DEAD_LETTER_HEADERS.reason)?.split(':')[0] ?? 'no reason'
      reasons[reason] = (reasons[reason] ?? 0) + 1
      const partition = Number(headerValue(letter, DEAD_LETTER_HEADERS.partition))
      const offset = Number(headerValue(letter, DEAD_LETTER_HEADERS.offset))
      if (!(records[offset * rig.partitions + partition]?.equals(letter.value ?? Buffer.alloc(0)) ?? false)) altered++
    }
    journal.count('dead letters', letters.length)
    journal.note(`dead letters by reason: ${JSON.stringify(reasons)}`)
    if (letters.length !== truth.summary.invalid)
      setup.fail(`${letters.length} dead letters, ${truth.summary.invalid} bad records`)
    if (JSON.stringify(sorted(reasons)) !== JSON.stringify(sorted(truth.summary.invalidByReason)))
      setup.fail(`dead letters by reason differ from the truth's ${JSON.stringify(truth.summary.invalidByReason)}`)
    if (altered > 0) setup.fail(`${altered} dead letters do not hold their record's original bytes`)
    const late = (await readTopic(`${rig.input}-late`)).length
    if (late !== truth.summary.late) setup.fail(`${late} records on the late topic, ${truth.summary.late} late events`)
    const wanted = sizes.short ? 1000 : 100_000
    if (truth.summary.invalid < wanted) setup.fail(`only ${truth.summary.invalid} bad records, ${wanted} wanted`)
  }
}

/** Simulated traffic with a generated hostile record after each simulated one, and a few near the size limit. */
async function mixedInput(rig: Rig, sizes: Sizes): Promise<string> {
  const lines = await fileLines(await simulateFile(rig, traffic(sizes)))
  const valid = JSON.parse(
    lines.map(line => decodeLine(line).toString()).find(line => line.startsWith('{"bytes"'))!
  ) as Record<string, unknown>
  const huge = sizes.short ? NEAR_LIMIT_COUNT.short : NEAR_LIMIT_COUNT.full
  const out: Buffer[] = []
  const newline = Buffer.from('\n')
  lines.forEach((line, n) => {
    out.push(line, newline)
    if (out.length / 2 >= sizes.events) return
    const record =
      n % Math.floor(lines.length / huge) === 7 ? nearLimit(valid) : hostileRecord('chaos-hostile', n, valid)
    out.push(Buffer.from(encodeLine(record)), newline)
  })
  const file = join(rig.dir, 'hostile.jsonl')
  await writeFile(file, Buffer.concat(out))
  return file
}

/** The lines of a record file as bytes (an empty line is an empty record). */
async function fileLines(path: string): Promise<Buffer[]> {
  const data = await readFile(path)
  const lines: Buffer[] = []
  for (let start = 0; start < data.length;) {
    const end = data.indexOf(0x0a, start)
    lines.push(data.subarray(start, end))
    start = end + 1
  }
  return lines
}

function sorted(counts: Record<string, number | undefined>): Array<[string, number | undefined]> {
  return Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : 1))
}
