// The users, antennas and apps of the reference deployment (shared/reference.md).

export interface UserRecord {
  id: string
  name: string
  email: string
  quota: number
}
export interface AntennaRecord {
  id: string
  model: string
  version: string
  lat: number
  lon: number
}

export const APPS = ['SKYPE', 'TELEGRAM', 'FACETIME', 'FACEBOOK', 'WHATSAPP'] as const
export type App = (typeof APPS)[number]

const USER_QUOTAS: ReadonlyArray<readonly [string, number]> = [
  ['andres', 200000],
  ['paco', 300000],
  ['juan', 100000],
  ['fede', 5000],
  ['gorka', 200000],
  ['luis', 200000],
  ['eric', 300000],
  ['carlos', 100000],
  ['david', 300000],
  ['juanchu', 300000],
  ['charo', 300000],
  ['delicidas', 1000000],
  ['milagros', 200000],
  ['antonio', 1000000],
  ['sergio', 1000000],
  ['maria', 1000000],
  ['cristina', 300000],
  ['lucia', 300000],
  ['carlota', 200000],
  ['emilio', 200000]
]

export const REFERENCE_USERS: readonly UserRecord[] = USER_QUOTAS.map(([name, quota], i) => ({
  id: `00000000-0000-0000-0000-${String(i + 1).padStart(12, '0')}`,
  name,
  email: `${name}@gmail.com`,
  quota
}))

export const REFERENCE_ANTENNAS: readonly AntennaRecord[] = [
  { id: '00000000-0000-0000-0000-000000000000', model: 'CH-2020', version: '1.0.0', lat: 36.454685, lon: -6.067934 },
  { id: '11111111-1111-1111-1111-111111111111', model: 'CH-2121', version: '1.2.0', lat: 36.459686, lon: -6.113992 },
  { id: '22222222-2222-2222-2222-222222222222', model: 'CH-2020', version: '1.0.1', lat: 36.478596, lon: -5.968923 },
  { id: '33333333-3333-3333-3333-333333333333', model: 'CH-3311', version: '1.0.0', lat: 36.420476, lon: -5.82254 },
  { id: '44444444-4444-4444-4444-444444444444', model: 'CH-2121', version: '1.2.0', lat: 36.297735, lon: -5.835083 }
]
