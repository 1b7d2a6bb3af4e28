// Counts the tests a suite declares without running them: each test file is imported with
// `ava` replaced by this module, whose `test` records each declaration instead of running it.
// Tests declared in loops or by helpers count as they would in a run; `.skip` and `.todo` ones
// are declared but never run.
import { registerHooks } from 'node:module'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

export interface Declared {
  file: string
  title: string
  /** False for `.skip` and `.todo`: such a test never passes by design. */
  runs: boolean
}

const declared: Declared[] = []
let current = ''

const declare =
  (runs: boolean) =>
  (title: unknown): void => {
    declared.push({ file: current, title: String(title), runs })
  }
const hook = Object.assign(() => {}, { always: () => {} })
const modifiers = (runs: boolean) =>
  Object.assign(declare(runs), {
    skip: declare(false),
    todo: declare(false),
    only: declare(runs),
    failing: declare(runs),
    before: hook,
    after: hook,
    beforeEach: hook,
    afterEach: hook
  })
const test = Object.assign(modifiers(true), {
  serial: modifiers(true),
  macro: (macro: unknown) => macro,
  meta: { file: '', snapshotDirectory: '' }
})
export default test

/**
 * The tests declared by `files` (paths from the current directory), in declaration order.
 * Throws, naming the file, when one cannot be loaded: its tests cannot have run either.
 */
export async function declaredTests(files: string[]): Promise<Declared[]> {
  const self = import.meta.url
  registerHooks({
    resolve: (specifier, context, next) =>
      specifier === 'ava' ? { url: self, shortCircuit: true } : next(specifier, context)
  })
  for (const file of files) {
    current = file
    try {
      await import(pathToFileURL(resolve(file)).href)
    } catch (error) {
      throw new Error(`cannot load ${file}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`, {
        cause: error
      })
    }
  }
  return declared
}
