// The users and antennas the simulator speaks for. Their metadata depends only on how many
// there are, never on the seed, so `--users N` always names the same users with the same
// quotas: provisioning once serves every seed, and the ground truth can rebuild the quotas
// from N alone.
import { REFERENCE_ANTENNAS, REFERENCE_USERS, type AntennaRecord, type UserRecord } from '../lib/reference.ts'
import { Random } from './random.ts'

export const MAX_USERS = 1_000_000
export const MAX_ANTENNAS = 10_000

export interface Population {
  users: readonly UserRecord[]
  antennas: readonly AntennaRecord[]
}

export function population(users = REFERENCE_USERS.length, antennas = REFERENCE_ANTENNAS.length): Population {
  return { users: makeUsers(users), antennas: makeAntennas(antennas) }
}

/**
 * The first 20 are the reference users; user k > 20 continues their id pattern
 * (`00000000-0000-0000-0000-0000000000kk`, decimal digits) and cycles through their quotas.
 */
export function makeUsers(count: number): UserRecord[] {
  const users = REFERENCE_USERS.slice(0, count)
  for (let k = users.length + 1; k <= count; k++) {
    users.push({
      id: `00000000-0000-0000-0000-${String(k).padStart(12, '0')}`,
      name: `user${k}`,
      email: `user${k}@example.com`,
      quota: REFERENCE_USERS[(k - 1) % REFERENCE_USERS.length]!.quota
    })
  }
  return users
}

const MODELS = ['CH-2020', 'CH-2121', 'CH-3311']
const VERSIONS = ['1.0.0', '1.0.1', '1.2.0']
// The area the reference antennas cover (around Jerez de la Frontera, Cádiz).
const AREA = { lat: [36.25, 36.55], lon: [-6.15, -5.75] } as const

/** The five reference antennas, then generated ones spread over the same area. */
export function makeAntennas(count: number): AntennaRecord[] {
  const antennas = REFERENCE_ANTENNAS.slice(0, count)
  for (let k = antennas.length; k < count; k++) {
    // A generator of its own per antenna keeps antenna k the same whatever the count.
    const random = new Random(`antenna ${k}`)
    antennas.push({
      id: `a0000000-0000-0000-0000-${String(k).padStart(12, '0')}`,
      model: random.pick(MODELS),
      version: random.pick(VERSIONS),
      lat: round6(AREA.lat[0] + random.float() * (AREA.lat[1] - AREA.lat[0])),
      lon: round6(AREA.lon[0] + random.float() * (AREA.lon[1] - AREA.lon[0]))
    })
  }
  return antennas
}

/** For each antenna, its nearest others (closest first): where a moving user goes next. */
export function nearestNeighbours(antennas: readonly AntennaRecord[], count: number): number[][] {
  // Flat-earth distances are fine over a few tens of kilometres.
  const cosLat = Math.cos((((AREA.lat[0] + AREA.lat[1]) / 2) * Math.PI) / 180)
  return antennas.map((a, i) => {
    // Keep only the best `count` while scanning: sorting all 10k others per antenna is too slow.
    const best: Array<[number, number]> = []
    for (let j = 0; j < antennas.length; j++) {
      if (i === j) continue
      const b = antennas[j]!
      const dLat = a.lat - b.lat
      const dLon = (a.lon - b.lon) * cosLat
      const d = dLat * dLat + dLon * dLon
      if (best.length === count && d >= best[count - 1]![0]) continue
      let at = best.length === count ? count - 1 : best.length
      while (at > 0 && best[at - 1]![0] > d) {
        best[at] = best[at - 1]!
        at--
      }
      best[at] = [d, j]
    }
    return best.map(([, j]) => j)
  })
}

function round6(value: number): number {
  return Math.round(value * 1e6) / 1e6
}
