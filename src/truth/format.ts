// Prints a ground truth as text tables, JSON or CSV, with the columns of the reference tables.
import { type BytesRow, type QuotaRow, type TruthResult } from './ground-truth.ts'

export const TABLES = ['bytes', 'bytes_hourly', 'user_quota_limit', 'quota_alerts'] as const
export type TableName = (typeof TABLES)[number]
export const FORMATS = ['table', 'json', 'csv'] as const
export type Format = (typeof FORMATS)[number]

const BYTES_COLUMNS = ['timestamp', 'id', 'value', 'type'] as const
const QUOTA_COLUMNS = ['email', 'usage', 'quota', 'timestamp'] as const

type Row = BytesRow | QuotaRow

function tableRows(result: TruthResult, table: TableName): { columns: readonly string[]; rows: Row[] } {
  switch (table) {
    case 'bytes':
      return { columns: BYTES_COLUMNS, rows: result.bytes }
    case 'bytes_hourly':
      return { columns: BYTES_COLUMNS, rows: result.bytesHourly }
    case 'user_quota_limit':
      return { columns: QUOTA_COLUMNS, rows: result.userQuotaLimit }
    case 'quota_alerts':
      return { columns: QUOTA_COLUMNS, rows: result.quotaAlerts }
  }
}

/** Renders the chosen tables; `json` also carries the summary. */
export function formatTruth(result: TruthResult, format: Format, tables: readonly TableName[] = TABLES): string {
  if (format === 'json') {
    const out: Record<string, unknown> = { summary: result.summary }
    for (const table of tables) out[table] = tableRows(result, table).rows
    return JSON.stringify(out, null, 2) + '\n'
  }
  const sections = tables.map(table => {
    const { columns, rows } = tableRows(result, table)
    const cells = rows.map(row => columns.map(c => String((row as unknown as Record<string, unknown>)[c])))
    if (format === 'csv') {
      // One table alone is plain CSV; several are separated by a `# name` line each.
      const body = [columns.join(','), ...cells.map(r => r.map(csvCell).join(','))].join('\n') + '\n'
      return tables.length > 1 ? `# ${table}\n${body}` : body
    }
    return `${table} (${rows.length} rows)\n${alignedTable(columns, cells)}`
  })
  if (format === 'csv') return sections.join('\n')
  return [summaryLine(result), ...sections].join('\n')
}

export function summaryLine(result: TruthResult): string {
  const s = result.summary
  const reasons = Object.entries(s.invalidByReason)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ')
  return `${s.records} records: ${s.valid} valid (${s.late} late), ${s.invalid} invalid${reasons === '' ? '' : ` (${reasons})`}\n`
}

function alignedTable(columns: readonly string[], cells: string[][]): string {
  const widths = columns.map((c, i) => cells.reduce((w, r) => Math.max(w, r[i]!.length), c.length))
  const numeric = new Set(['value', 'usage', 'quota'])
  const line = (values: readonly string[]): string =>
    values
      .map((v, i) => (numeric.has(columns[i]!) ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(columns), ...cells.map(line)].join('\n') + '\n'
}

function csvCell(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}
