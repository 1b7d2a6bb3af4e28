import test from 'ava'
import { cellstream } from '../helpers/cli.ts'

const oneLine = (text: string): boolean => text.trim() !== '' && !text.trim().includes('\n')

test('every command has --help', async t => {
  const commands = [
    [],
    ['kafka'],
    ['kafka', 'start'],
    ['kafka', 'stop'],
    ['kafka', 'status'],
    ['db'],
    ['db', 'migrate'],
    ['db', 'provision'],
    ['simulate'],
    ['truth'],
    ['mirror'],
    ['stream'],
    ['reset'],
    ['demo']
  ]
  const results = await Promise.all(commands.map(args => cellstream([...args, '--help'])))
  results.forEach((result, i) => {
    t.is(result.code, 0, commands[i]!.join(' '))
    t.regex(result.stdout, /^Usage: cellstream/, commands[i]!.join(' '))
  })
})

test('an unknown flag is explained in one line with exit code 2', async t => {
  const result = await cellstream(['db', 'migrate', '--bogus'])
  t.is(result.code, 2)
  t.true(oneLine(result.stderr))
  t.regex(result.stderr, /^cellstream: unknown option '--bogus'/)
})

test('an unknown command suggests the closest one', async t => {
  const result = await cellstream(['kafka', 'strat'])
  t.is(result.code, 2)
  t.true(oneLine(result.stderr))
  t.regex(result.stderr, /Did you mean start\?/)
})

test('an invalid value names the option and what it accepts', async t => {
  const nodes = await cellstream(['kafka', 'start', '--nodes', '2'])
  t.is(nodes.code, 2)
  t.true(oneLine(nodes.stderr))
  t.regex(nodes.stderr, /'--nodes <n>' argument '2' is invalid\. Allowed choices are 1, 3/)

  const port = await cellstream(['kafka', 'start', '--port', 'abc'])
  t.is(port.code, 2)
  t.is(port.stderr, "cellstream: --port must be a whole number, got 'abc'\n")
})

test('a malformed DATABASE_URL is one line, exit code 2', async t => {
  const result = await cellstream(['db', 'migrate'], { DATABASE_URL: 'mysql://x/y' })
  t.is(result.code, 2)
  t.is(result.stderr, "cellstream: DATABASE_URL must start with postgres://, got 'mysql://x/y'\n")
})

test('an unreachable PostgreSQL is one line, exit code 3', async t => {
  const result = await cellstream(['db', 'provision', '--database-url', 'postgres://postgres@127.0.0.1:1/cellstream'])
  t.is(result.code, 3)
  t.is(
    result.stderr,
    'cellstream: PostgreSQL is not reachable at postgres://postgres@127.0.0.1:1/cellstream: ECONNREFUSED\n'
  )
})

test('kafka status against brokers that do not answer exits 1', async t => {
  const result = await cellstream(['kafka', 'status', '--data-dir', './data/none', '--brokers', '127.0.0.1:1'])
  t.is(result.code, 1)
  t.is(result.stdout, 'Kafka does not answer at 127.0.0.1:1\n')
})

test('stream and reset check their flags before touching any service', async t => {
  const grace = await cellstream(['stream', '--grace', '-5'])
  t.is(grace.code, 2)
  t.is(grace.stderr, 'cellstream: --grace must be between 0 and 86400, got -5\n')
  const brokers = await cellstream(['reset', '--brokers', 'nowhere'])
  t.is(brokers.code, 2)
  t.is(brokers.stderr, "cellstream: a Kafka broker must be host:port, got 'nowhere'\n")
  const down = await cellstream(['stream', '--brokers', '127.0.0.1:1'])
  t.is(down.code, 3)
  t.regex(down.stderr, /^cellstream: Kafka is not reachable at 127\.0\.0\.1:1: [^\n]*\n$/)
})
