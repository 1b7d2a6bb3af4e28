import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir } from '../helpers/temp-dir.ts'

const SCRIPT = fileURLToPath(new URL('../../.ci/tests-ran.ts', import.meta.url))

/** A small suite: 6 tests that run (3 declared in a loop), 2 that never do, 1 file left out. */
async function suite(dir: string): Promise<void> {
  await mkdir(join(dir, 'test', 'left-out'), { recursive: true })
  await mkdir(join(dir, 'other'), { recursive: true })
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ type: 'module', ava: { files: ['test/**/*.test.ts', '!test/left-out/**'] } })
  )
  await writeFile(
    join(dir, 'test', 'a.test.ts'),
    `import test from 'ava'
test('one', t => t.pass())
test.serial('two', t => t.pass())
for (const n of [1, 2, 3]) test(\`loop \${n}\`, t => t.pass())
test.skip('skipped', t => t.pass()) // fixture: a skipped test, which the count must not expect
test.todo('later') // fixture: a todo test, which the count must not expect
`
  )
  await writeFile(
    join(dir, 'test', 'left-out', 'b.test.ts'),
    `import test from 'ava'\ntest('not here', t => t.pass())\n`
  )
  await writeFile(join(dir, 'other', 'c.test.ts'), `import test from 'ava'\ntest('other', t => t.pass())\n`)
  await writeFile(join(dir, 'other.config.js'), `export default { files: ['other/*.test.ts'] }\n`)
}

function run(
  dir: string,
  log: string,
  ...configs: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [SCRIPT, log, ...configs], { cwd: dir }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr })
    )
  })
}

const passedLines = (n: number): string =>
  Array.from({ length: n }, (_, i) => `  ✔ a › test ${i}\n`).join('') + `  - a › skipped\n`

test('a run in which every declared test passed is complete; skipped and todo tests are not expected', async t => {
  const dir = await tempDir(t)
  await suite(dir)
  await writeFile(join(dir, 'log'), passedLines(6))
  const result = await run(dir, 'log', 'package.json', 'other.config.js')
  t.is(result.code, 0, result.stderr)
  t.is(result.stdout, '6 of the 6 tests the suite declares passed (2 skipped by design)\n')
  // Excluded files are not declared: package.json alone holds 5.
  await writeFile(join(dir, 'log'), passedLines(5))
  const own = await run(dir, 'log', 'package.json')
  t.is(own.code, 0, own.stderr)
  t.is(own.stdout, '5 of the 5 tests the suite declares passed (2 skipped by design)\n')
})

test('a run with fewer passed tests than declared fails in one line', async t => {
  const dir = await tempDir(t)
  await suite(dir)
  await writeFile(join(dir, 'log'), passedLines(5) + '  ✘ [fail]: a › one\n')
  const result = await run(dir, 'log', 'package.json', 'other.config.js')
  t.is(result.code, 1)
  t.is(result.stderr, "only 5 of the suite's 6 tests passed: the run was partial\n")
  await writeFile(join(dir, 'log'), '')
  t.is((await run(dir, 'log', 'package.json')).code, 1, 'no test ran')
})

test('a test file that cannot load fails the count in one line that names it', async t => {
  const dir = await tempDir(t)
  await suite(dir)
  await writeFile(join(dir, 'test', 'broken.test.ts'), `import test from 'ava'\nthrow new Error('no fixture\\nhere')\n`)
  await writeFile(join(dir, 'log'), passedLines(6))
  const result = await run(dir, 'log', 'package.json', 'other.config.js')
  t.is(result.code, 1)
  t.is(result.stderr, "cannot count the suite's tests: cannot load test/broken.test.ts: no fixture\n")
})
