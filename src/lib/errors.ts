// One coded error hierarchy. The CLI prints `message` alone on one line for any
// CellstreamError and exits with `exitCode`; anything else is a bug and shows its stack.

export class CellstreamError extends Error {
  readonly code: string
  readonly exitCode: number

  constructor(code: string, message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, { cause: options.cause })
    this.name = 'CellstreamError'
    this.code = code
    this.exitCode = options.exitCode ?? 1
  }
}

/** Wrong flags, values or arguments given by the user. */
export class UsageError extends CellstreamError {
  constructor(message: string) {
    super('CS_USAGE', message, { exitCode: 2 })
    this.name = 'UsageError'
  }
}

/** A service (Kafka, PostgreSQL) or a tool (java, mvn) that cannot be reached or run. */
export class UnavailableError extends CellstreamError {
  constructor(message: string, cause?: unknown) {
    super('CS_UNAVAILABLE', message, { cause, exitCode: 3 })
    this.name = 'UnavailableError'
  }
}

/** Data that cannot be read as what it claims to be (a corrupt file, a bad record). */
export class DataError extends CellstreamError {
  constructor(message: string, cause?: unknown) {
    super('CS_DATA', message, { cause })
    this.name = 'DataError'
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return errorMessage(error.errors[0])
  if (error instanceof Error) return error.message
  return String(error)
}
