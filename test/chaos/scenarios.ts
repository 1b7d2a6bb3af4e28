// The chaos scenarios, in the order they run.
import { brokers } from './brokers.ts'
import { crashes } from './crashes.ts'
import { disk } from './disk.ts'
import { hostile } from './hostile.ts'
import { pgOutage } from './pg-outage.ts'
import { scale } from './scale.ts'
import type { ScenarioSpec } from './scenario.ts'

export const SCENARIOS: ScenarioSpec[] = [crashes, scale, pgOutage, hostile, disk, brokers]
