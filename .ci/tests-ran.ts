// Fails when fewer tests passed than the suite declares: a run cut short, a test file that
// could not load or a `.only` left in would otherwise pass as long as nothing failed.
//
//   node .ci/tests-ran.ts LOG CONFIG...
//
// LOG is ava's output (one `✔` line per passed test); each CONFIG is a package.json (its `ava`
// key) or an ava.config.js whose `files` globs, taken from the current directory, name the
// test files that run wrote to LOG.
import { readFile } from 'node:fs/promises'
import { glob } from 'node:fs/promises'
import { matchesGlob, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { declaredTests } from './declared-tests.ts'

async function testFiles(config: string): Promise<string[]> {
  const patterns = config.endsWith('.json')
    ? ((JSON.parse(await readFile(config, 'utf8')) as { ava: { files: string[] } }).ava.files ?? [])
    : ((await import(pathToFileURL(resolve(config)).href)) as { default: { files: string[] } }).default.files
  const excluded = patterns.filter(p => p.startsWith('!')).map(p => p.slice(1))
  const files: string[] = []
  for (const pattern of patterns.filter(p => !p.startsWith('!')))
    for await (const file of glob(pattern)) if (!excluded.some(p => matchesGlob(file, p))) files.push(file)
  return [...new Set(files)].sort()
}

const [log, ...configs] = process.argv.slice(2)
if (log === undefined || configs.length === 0) {
  console.error('usage: node .ci/tests-ran.ts LOG CONFIG...')
  process.exit(2)
}
const files = (await Promise.all(configs.map(testFiles))).flat()
const tests = await declaredTests(files).catch((error: Error) => {
  console.error(`cannot count the suite's tests: ${error.message}`)
  process.exit(1)
})
const held = tests.filter(test => test.runs).length
const skipped = tests.length - held
const passed = (await readFile(log, 'utf8')).split('\n').filter(line => /^\s+✔/.test(line)).length
console.log(`${passed} of the ${held} tests the suite declares passed (${skipped} skipped by design)`)
if (passed < held) {
  console.error(`only ${passed} of the suite's ${held} tests passed: the run was partial`)
  process.exit(1)
}
