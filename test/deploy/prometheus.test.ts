// deploy/prometheus/alerts.yaml, checked without a Prometheus: every rule is complete, every
// expression parses with Prometheus' own PromQL grammar, and reads only metrics (and labels)
// that a stream instance serves.
import test from 'ava'
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { parser } from '@prometheus-io/lezer-promql'
import { StreamMetrics } from '../../src/web/metrics.ts'

interface Rule {
  alert: string
  expr: string
  for?: string
  labels: { severity: string }
  annotations: { summary: string; description: string }
}

const { groups } = parse(await readFile(new URL('../../deploy/prometheus/alerts.yaml', import.meta.url), 'utf8')) as {
  groups: Array<{ name: string; rules: Rule[] }>
}
const rules = groups.flatMap(g => g.rules)

/** The metrics a stream instance serves, with their labels. */
async function servedMetrics(): Promise<Map<string, Set<string>>> {
  const metrics = new StreamMetrics()
  metrics.watch({ commits: 0, assignment: [] })
  const served = new Map<string, Set<string>>()
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    const labels = new Set(
      (metrics.registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] }).labelNames ?? []
    )
    const names =
      metric.type.toString() === 'histogram' ? ['_bucket', '_sum', '_count'].map(s => metric.name + s) : [metric.name]
    for (const name of names) served.set(name, name.endsWith('_bucket') ? new Set([...labels, 'le']) : labels)
  }
  return served
}

/** Syntax errors, and each selector's metric and label names. */
function readExpression(expr: string): { errors: number[]; selectors: Array<{ metric: string; labels: string[] }> } {
  const errors: number[] = []
  const selectors: Array<{ metric: string; labels: string[] }> = []
  parser.parse(expr).iterate({
    enter: node => {
      if (node.type.isError) errors.push(node.from)
      if (node.name !== 'VectorSelector') return
      const metric = node.node.getChild('Identifier')
      const matchers = node.node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []
      selectors.push({
        metric: metric === null ? '' : expr.slice(metric.from, metric.to),
        labels: matchers.map(m => {
          const name = m.getChild('LabelName')!
          return expr.slice(name.from, name.to)
        })
      })
    }
  })
  return { errors, selectors }
}

test('the checker itself finds syntax errors and selectors', t => {
  t.true(readExpression('sum(rate(x_total[5m]) >').errors.length > 0)
  t.deepEqual(readExpression('rate(a_total{b="c"}[1m]) > d').selectors, [
    { metric: 'a_total', labels: ['b'] },
    { metric: 'd', labels: [] }
  ])
})

test('every alert is complete: name, expression, severity, summary and description', t => {
  t.true(rules.length > 0)
  t.is(new Set(rules.map(r => r.alert)).size, rules.length, 'names are unique')
  for (const rule of rules) {
    t.regex(rule.alert, /^Cellstream[A-Z]\w+$/)
    t.true(['info', 'warning', 'critical'].includes(rule.labels.severity), rule.alert)
    t.truthy(rule.annotations.summary, rule.alert)
    t.truthy(rule.annotations.description, rule.alert)
    if (rule.for !== undefined) t.regex(rule.for, /^\d+[smh]$/, rule.alert)
  }
})

test('every expression parses and reads only metrics and labels that a stream instance serves', async t => {
  const served = await servedMetrics()
  for (const rule of rules) {
    const { errors, selectors } = readExpression(rule.expr)
    t.deepEqual(errors, [], `${rule.alert}: ${rule.expr}`)
    for (const { metric, labels } of selectors) {
      t.true(served.has(metric), `${rule.alert}: ${metric} is served`)
      t.deepEqual(
        labels.filter(l => !served.get(metric)?.has(l)),
        [],
        `${rule.alert}: labels of ${metric}`
      )
    }
  }
})

test('the alerts cover growing lag, dead letters, failing commits and quota alerts', t => {
  const read = (metric: string): string[] =>
    rules.filter(r => readExpression(r.expr).selectors.some(s => s.metric === metric)).map(r => r.alert)
  for (const metric of [
    'cellstream_consumer_lag',
    'cellstream_dead_letters_total',
    'cellstream_commit_failures_total',
    'cellstream_watch_emitted_total'
  ]) {
    t.true(read(metric).length > 0, `an alert reads ${metric}`)
  }
  t.true(rules.some(r => r.expr.includes('watch="quota-alerts"')))
})
