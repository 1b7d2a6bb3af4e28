// SQL text for DuckDB statements that cannot take parameters (COPY targets, file lists).

/** A single-quoted SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}

/** A DuckDB list literal of strings: ['a', 'b']. */
export function sqlList(values: readonly string[]): string {
  return `[${values.map(sqlString).join(', ')}]`
}
