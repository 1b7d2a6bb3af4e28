// The traffic model: who sends, from which antenna, with which app and how many bytes, at
// each second of event time. Everything is drawn from one seeded generator in a fixed order,
// so the same seed and options give the same records.
//
// - Volume: `rate` events per second on average, shaped by a daily rhythm (quiet nights,
//   a midday plateau, an evening peak, in UTC hours for the reference area).
// - Users: a few heavy users and many light ones (log-normal activity); each follows a
//   persona that prefers some apps, and has a personal byte factor.
// - Mobility: a user stays at an antenna for a while (exponential dwell), then moves to a
//   nearby one, and drifts back home more often than away.
// - Bytes: per-app median sizes with log-normal noise, scaled by the rhythm, clamped to the
//   original simulator's 0..9999 range.
import { APPS } from '../lib/reference.ts'
import { BAD_KINDS, badRecord, type BadKind } from './bad-records.ts'
import { nearestNeighbours, population, type Population } from './population.ts'
import { Random } from './random.ts'

export interface TrafficOptions {
  seed: string
  users?: number
  antennas?: number
  /** Mean events per second of event time. Default: one per user per minute, like the original. */
  rate?: number
  /** Share of records replaced by malformed ones. */
  badRatio?: number
  /** Share of valid events sent late: stamped 5 to 60 minutes before the second they are sent in. */
  lateRatio?: number
}

/**
 * One simulated record. Valid events keep their fields as numbers (indexes into the
 * population and APPS) and are serialized by EventEncoder straight into the sink's buffer;
 * bad records carry their malformed payload.
 */
export interface SimRecord {
  /** Position in the output, from 0. */
  index: number
  /** The event-time second the record was sent in. */
  second: number
  /** Index of the user behind the record (for bad records too: their Kafka key with `--key user`). */
  user: number
  antenna: number
  /** Index into APPS. */
  app: number
  bytes: number
  /** Event time in epoch seconds: `second`, or earlier for a late event. */
  timestamp: number
  bad: BadKind | undefined
  badPayload: string | Buffer | undefined
}

export const MAX_BYTES_PER_MESSAGE = 9999
const MIN_VALID_TIMESTAMP = 946_684_800
const MEAN_DWELL_SECONDS = 30 * 60
const NEIGHBOURS = 4

// App preferences per persona, in the order of APPS (SKYPE, TELEGRAM, FACETIME, FACEBOOK, WHATSAPP).
const PERSONAS: ReadonlyArray<readonly number[]> = [
  [0.05, 0.3, 0.05, 0.15, 0.45], // messaging
  [0.05, 0.1, 0.1, 0.45, 0.3], // social
  [0.3, 0.05, 0.4, 0.05, 0.2], // video calls
  [0.45, 0.2, 0.05, 0.1, 0.2], // business
  [0.2, 0.2, 0.2, 0.2, 0.2] // a bit of everything
]
// Median bytes per message of each app, in the order of APPS: video calls are the heaviest.
const APP_MEDIAN_BYTES = [4000, 1200, 5000, 2800, 2000]

/** Activity relative to the daily mean (averages 1 over a UTC day). */
export function dailyRhythm(second: number): number {
  const hour = (second % 86400) / 3600
  return 1 - 0.55 * Math.cos((2 * Math.PI * (hour - 3)) / 24) + 0.2 * Math.cos((4 * Math.PI * (hour - 7)) / 24)
}

export class Traffic {
  readonly population: Population
  readonly rate: number
  readonly #random: Random
  readonly #badRatio: number
  readonly #lateRatio: number
  readonly #neighbours: number[][]
  // Per-user state in typed arrays so memory stays small with a million users.
  readonly #persona: Uint8Array
  readonly #byteFactor: Float32Array
  readonly #home: Int32Array
  readonly #at: Int32Array
  readonly #moveAt: Float64Array
  readonly #appCumulative: Float64Array[]
  readonly #pickUser: AliasTable
  #carry = 0
  #index = 0
  #rhythmSecond = NaN
  #rhythm = 1

  constructor(options: TrafficOptions) {
    this.population = population(options.users, options.antennas)
    const userCount = this.population.users.length
    const antennaCount = this.population.antennas.length
    this.rate = options.rate ?? userCount / 60
    this.#badRatio = options.badRatio ?? 0
    this.#lateRatio = options.lateRatio ?? 0
    this.#neighbours = nearestNeighbours(this.population.antennas, NEIGHBOURS)
    this.#appCumulative = PERSONAS.map(cumulative)

    // Profiles first, from their own generator, so they do not shift when other options change.
    const profiles = Random.derive(options.seed, 'profiles')
    this.#persona = new Uint8Array(userCount)
    this.#byteFactor = new Float32Array(userCount)
    this.#home = new Int32Array(userCount)
    this.#at = new Int32Array(userCount)
    this.#moveAt = new Float64Array(userCount).fill(-1)
    const activity = new Float64Array(userCount)
    for (let u = 0; u < userCount; u++) {
      this.#persona[u] = profiles.int(PERSONAS.length)
      this.#byteFactor[u] = Math.exp(0.25 * profiles.normal())
      this.#home[u] = this.#at[u] = profiles.int(antennaCount)
      activity[u] = Math.exp(0.6 * profiles.normal())
    }
    this.#pickUser = new AliasTable(activity)
    this.#random = Random.derive(options.seed, 'traffic')
  }

  /**
   * How many records are sent in this event-time second. Call it once per second, in order:
   * fractions carry over, so a rate of 1/3 gives one record every third second.
   */
  countAt(second: number): number {
    this.#carry += this.rate * this.#rhythmAt(second)
    const count = Math.floor(this.#carry)
    this.#carry -= count
    return count
  }

  /**
   * The next record, sent in event-time second `second`. Pass `into` to have it filled in
   * place: the hot loop then allocates nothing for valid events.
   */
  next(second: number, into?: SimRecord): SimRecord {
    const random = this.#random
    const u = this.#pickUser.draw(random)
    const antenna = this.#moveUser(u, second)
    const app = drawIndex(this.#appCumulative[this.#persona[u]!]!, random.float())
    const size =
      APP_MEDIAN_BYTES[app]! *
      this.#byteFactor[u]! *
      (0.7 + 0.3 * this.#rhythmAt(second)) *
      Math.exp(0.45 * random.normal())
    const bytes = Math.min(MAX_BYTES_PER_MESSAGE, Math.round(size))
    let timestamp = second
    if (this.#lateRatio > 0 && random.chance(this.#lateRatio)) {
      timestamp = Math.max(MIN_VALID_TIMESTAMP, second - 300 - random.int(3300))
    }
    let bad: BadKind | undefined
    let badPayload: string | Buffer | undefined
    if (this.#badRatio > 0 && random.chance(this.#badRatio)) {
      bad = BAD_KINDS[random.int(BAD_KINDS.length)]!
      const event = {
        bytes,
        timestamp,
        app: APPS[app]!,
        id: this.population.users[u]!.id,
        antenna_id: this.population.antennas[antenna]!.id
      }
      badPayload = badRecord(bad, event, random)
    }
    const record = into ?? ({} as SimRecord)
    record.index = this.#index++
    record.second = second
    record.user = u
    record.antenna = antenna
    record.app = app
    record.bytes = bytes
    record.timestamp = timestamp
    record.bad = bad
    record.badPayload = badPayload
    return record
  }

  /** The rhythm changes slowly; computing it once per second saves two cosines per event. */
  #rhythmAt(second: number): number {
    if (second !== this.#rhythmSecond) {
      this.#rhythmSecond = second
      this.#rhythm = dailyRhythm(second)
    }
    return this.#rhythm
  }

  /** Moves the user if their dwell time is over; returns the antenna they are at. */
  #moveUser(u: number, second: number): number {
    const moveAt = this.#moveAt[u]!
    if (moveAt < 0) {
      this.#moveAt[u] = second + this.#random.exponential(MEAN_DWELL_SECONDS)
    } else if (second >= moveAt) {
      const at = this.#at[u]!
      const home = this.#home[u]!
      const neighbours = this.#neighbours[at]!
      const next =
        at !== home && this.#random.chance(0.4) ? home : neighbours.length > 0 ? this.#random.pick(neighbours) : at
      this.#at[u] = next
      this.#moveAt[u] = second + this.#random.exponential(MEAN_DWELL_SECONDS)
    }
    return this.#at[u]!
  }
}

function cumulative(weights: readonly number[]): Float64Array {
  const total = weights.reduce((a, b) => a + b, 0)
  const out = new Float64Array(weights.length)
  let sum = 0
  weights.forEach((w, i) => {
    sum += w / total
    out[i] = sum
  })
  out[out.length - 1] = 1
  return out
}

function drawIndex(cumulativeWeights: Float64Array, u: number): number {
  let i = 0
  while (u >= cumulativeWeights[i]!) i++
  return i
}

/** Walker's alias method: draws an index with probability proportional to its weight in O(1). */
class AliasTable {
  readonly #probability: Float64Array
  readonly #alias: Int32Array

  constructor(weights: Float64Array) {
    const n = weights.length
    const total = weights.reduce((a, b) => a + b, 0)
    this.#probability = new Float64Array(n)
    this.#alias = new Int32Array(n)
    const scaled = weights.map(w => (w * n) / total)
    const small: number[] = []
    const large: number[] = []
    scaled.forEach((p, i) => (p < 1 ? small : large).push(i))
    while (small.length > 0 && large.length > 0) {
      const s = small.pop()!
      const l = large.pop()!
      this.#probability[s] = scaled[s]!
      this.#alias[s] = l
      scaled[l] = scaled[l]! + scaled[s]! - 1
      ;(scaled[l]! < 1 ? small : large).push(l)
    }
    for (const i of [...small, ...large]) this.#probability[i] = 1
  }

  draw(random: Random): number {
    const n = this.#probability.length
    const x = random.float() * n
    const i = Math.floor(x)
    return x - i < this.#probability[i]! ? i : this.#alias[i]!
  }
}
