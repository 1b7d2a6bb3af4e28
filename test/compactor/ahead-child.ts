// Runs rounds of compaction ahead on one hour until killed, for the kill -9 test of
// ahead.test.ts: an open round, a closed round, then the pieces are deleted and it starts over,
// so that a kill can land in any step of writing or deleting pieces. Prints `round N` after each
// round, so the test can kill it once it has written pieces.
// Usage: node ahead-child.ts ARCHIVE_DIR HOUR OPEN_ROWS CLOSED_ROWS
import { compactAhead } from '../../src/compactor/ahead.ts'
import { removeHourPieces } from '../../src/compactor/pieces.ts'
import { HOUR_SECONDS } from '../../src/archive/layout.ts'

const [archiveDir, hourText, open, closed] = process.argv.slice(2)
const hour = Number(hourText)
const pieceRows = { open: Number(open), closed: Number(closed) }
let rounds = 0
for (;;) {
  for (const now of [hour + HOUR_SECONDS / 2, hour + HOUR_SECONDS + 1]) {
    const [outcome] = await compactAhead({ archiveDir: archiveDir!, hours: [hour], now, pieceRows })
    if (outcome?.ok !== true) throw outcome?.error ?? new Error('no outcome')
    process.stdout.write(`round ${++rounds}\n`)
  }
  await removeHourPieces(archiveDir!, hour)
}
