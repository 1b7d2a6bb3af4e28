// Runs the simulator into a record file, the way `simulate --out` does, for the tests.
import { join } from 'node:path'
import type { ExecutionContext } from 'ava'
import { EventEncoder } from '../../src/simulator/event-json.ts'
import { simulate, type SimulateResult } from '../../src/simulator/run.ts'
import { BufferedFile, FileSink } from '../../src/simulator/sink.ts'
import { Traffic, type TrafficOptions } from '../../src/simulator/traffic.ts'
import { tempDir } from './temp-dir.ts'

export const DAY = Date.parse('2026-11-02T00:00:00Z') / 1000

export interface FileRun {
  path: string
  badLog: string
  result: SimulateResult
  traffic: Traffic
}

export async function simulateToFile(
  t: ExecutionContext,
  traffic: TrafficOptions,
  period: { from?: number; to?: number; events?: number; speed?: number } = {}
): Promise<FileRun> {
  const dir = await tempDir(t)
  const path = join(dir, 'records.jsonl')
  const badLog = join(dir, 'records.bad.jsonl')
  const model = new Traffic(traffic)
  const sink = await FileSink.open(path, new EventEncoder(model.population))
  const log = await new BufferedFile(badLog).open()
  const from = period.from ?? DAY
  const result = await simulate({
    traffic: model,
    sink,
    from,
    to: period.to ?? from + 86_400,
    events: period.events,
    speed: period.speed,
    badLog: log
  })
  await sink.close()
  await log.close()
  return { path, badLog, result, traffic: model }
}
