// A sink must not be poisoned by one row: when PostgreSQL refuses a statement because of the
// data in it (SQLSTATE class 22, data exception, or 23, integrity constraint violation), the
// rows are written again in halves until the refused ones stand alone; those are returned, to
// go to the dead-letter topic, and every other row is written. Anything else (the server
// unreachable, a missing table) is an outage and throws, so the commit is retried.

/** True for PostgreSQL errors caused by the values written, not by the server or the schema. */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code)
}

/** `22001 value too long …`: the SQLSTATE and message of a refusal, for the dead-letter reason. */
export function describeRefusal(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string }
  return `${code ?? ''} ${message ?? String(error)}`.trim()
}

/**
 * Writes `rows` with `write`; returns the rows refused for their data with the reason. A
 * refused statement costs about 2·log2(rows) statements per refused row: refusals are rare,
 * since validation keeps such values out, so the common path stays one statement.
 */
export async function writeIsolating<R>(
  rows: R[],
  write: (rows: R[]) => Promise<void>
): Promise<Array<{ row: R; error: string }>> {
  if (rows.length === 0) return []
  try {
    await write(rows)
    return []
  } catch (error) {
    if (!isDataError(error)) throw error
    if (rows.length === 1) return [{ row: rows[0]!, error: describeRefusal(error) }]
    const half = Math.ceil(rows.length / 2)
    return [...(await writeIsolating(rows.slice(0, half), write)), ...(await writeIsolating(rows.slice(half), write))]
  }
}
