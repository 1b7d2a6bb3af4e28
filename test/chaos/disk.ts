// Disk trouble under the archive while events flow: the archive folder is a small tmpfs that
// fills up, and is later made read-only. The instances must stop committing, say why (a log
// line and /ready), and resume without loss once the disk is writable again. Mounting needs
// root; otherwise the folder is made unwritable with chmod, and the full disk is skipped.
import { execFile } from 'node:child_process'
import { mkdir, open, readFile, rm, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { committedOffsets, withAdmin } from '../../src/kafka/admin.ts'
import { sleep } from '../../src/lib/processes.ts'
import type { ScenarioSpec, Setup, Sizes } from './scenario.ts'

const run = promisify(execFile)
const NAMES = ['a', 'b']

interface Fault {
  name: string
  /** The error the instances must name. */
  expect: RegExp
  begin: () => Promise<void>
  end: () => Promise<void>
}

export const disk: ScenarioSpec = {
  name: 'disk',
  events: { full: 300_000, short: 10_000 },
  traffic: sizes => ({ seed: 'chaos-disk', events: sizes.events, rate: 20 }),
  inject: async (setup: Setup, sizes: Sizes) => {
    const { fleet, journal, rig } = setup
    const archive = join(rig.dir, 'archive')
    await mkdir(archive, { recursive: true })
    const faults = await diskFaults(setup, archive)
    for (const name of NAMES) await fleet.start(name)
    const seconds = sizes.short ? 12 : 60
    const input = setup.feed(Math.ceil(sizes.events / ((seconds + 15) * faults.length + 15)))
    for (const fault of faults) {
      await sleep(10_000)
      await fault.begin()
      journal.count('disk faults')
      journal.note(`${fault.name}, after ${input.sent()} records`)
      await sleep(5000)
      const before = await committedInput(setup)
      const reasons = new Set<string>()
      const ends = Date.now() + (seconds - 5) * 1000
      while (Date.now() < ends) {
        for (const name of NAMES) {
          const status = await fleet.status(name)
          if (status?.ready === false && status.reason !== undefined) reasons.add(status.reason.replace(/\d+ s/, 'N s'))
        }
        await sleep(1000)
      }
      const after = await committedInput(setup)
      await fault.end()
      journal.note(
        `disk writable again; input records committed during the fault: ${after - before}; /ready said: ${[...reasons].join(' | ')}`
      )
      if (after !== before)
        setup.fail(`${after - before} input records committed while the archive could not be written`)
      if (![...reasons].some(reason => /failing for N s, retrying: .*/.test(reason) && fault.expect.test(reason)))
        setup.fail(`/ready did not name the disk error during: ${fault.name}`)
      const logs = await Promise.all(NAMES.map(name => readFile(fleet.logPath(name), 'utf8')))
      if (!logs.some(log => log.split('\n').some(line => fault.expect.test(line))))
        setup.fail(`no log line named the disk error during: ${fault.name}`)
      await allReady(setup)
    }
    journal.note(`fed ${await input.done} records`)
  }
}

/** The archive on a tmpfs that fills up, then made read-only (as root); else unwritable by mode. */
async function diskFaults(setup: Setup, archive: string): Promise<Fault[]> {
  if (process.getuid?.() !== 0) {
    return [
      {
        name: 'the archive folder made unwritable (chmod 0500)',
        expect: /EACCES|permission denied/i,
        begin: () => chmod(archive, 0o500),
        end: () => chmod(archive, 0o755)
      }
    ]
  }
  await run('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'tmpfs', archive])
  setup.rig.defer(() => run('umount', ['-l', archive]))
  const filler = join(archive, '.filler')
  return [
    {
      name: 'the archive tmpfs filled up',
      expect: /ENOSPC|no space left/i,
      begin: () => fill(filler),
      end: () => rm(filler, { force: true })
    },
    {
      name: 'the archive tmpfs remounted read-only',
      expect: /EROFS|read-only/i,
      begin: async () => {
        await run('mount', ['-o', 'remount,ro', archive])
      },
      end: async () => {
        await run('mount', ['-o', 'remount,rw', archive])
      }
    }
  ]
}

/** Writes `path` until the file system has no space left, in ever smaller pieces. */
async function fill(path: string): Promise<void> {
  const file = await open(path, 'w')
  try {
    for (const size of [1 << 20, 4096, 1]) {
      const chunk = Buffer.alloc(size, 1)
      try {
        for (;;) await file.write(chunk)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
      }
    }
  } finally {
    await file.close()
  }
}

/** How far the group committed in the input, summed over its partitions. */
async function committedInput(setup: Setup): Promise<bigint> {
  const { rig } = setup
  const partitions = Array.from({ length: rig.partitions }, (_, partition) => ({ topic: rig.input, partition }))
  const offsets = await withAdmin(rig.brokers, admin => committedOffsets(admin, rig.group, partitions))
  return [...offsets.values()].reduce((a, b) => a + b, 0n)
}

async function allReady(setup: Setup): Promise<void> {
  const deadline = Date.now() + 120_000
  for (const name of NAMES) {
    while ((await setup.fleet.status(name))?.ready !== true) {
      if (Date.now() > deadline) return setup.fail(`${name} was not ready within 120 s after the fault`)
      await sleep(500)
    }
  }
  setup.journal.note('every instance ready again')
}
