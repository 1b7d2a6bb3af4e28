// Secrets the process knows (passwords, keys) and their removal from anything it prints or
// serves: log lines, error messages, HTTP answers. Known values are replaced wherever they
// appear, so a secret that a library copies into an error message is caught as well; and the
// password of any URL is hidden even when that URL was never registered.

const MASK = '***'
const secrets = new Set<string>()
/** The secrets longest first, so that a secret containing another is hidden whole; made again when one is added. */
let longestFirst: string[] = []

/** Environment variables that hold secrets by their name, whatever reads them. */
const SECRET_VARIABLE = /(PASSWORD|SECRET|TOKEN|SECRET_ACCESS_KEY|SESSION_KEY)$/

/** Remembers a secret so that `redact` hides it; values too short to be told apart are left. */
export function registerSecret(value: string | undefined): void {
  if (value === undefined || value.length < 4) return
  // As written, as in a URL and as in a JSON string.
  secrets.add(value)
  secrets.add(encodeURIComponent(value))
  secrets.add(JSON.stringify(value).slice(1, -1))
  longestFirst = [...secrets].sort((a, b) => b.length - a.length)
}

/** Registers the password of a URL (DATABASE_URL), as given and as decoded. */
export function registerUrlSecret(url: string | undefined): void {
  if (url === undefined) return
  try {
    const password = new URL(url).password
    registerSecret(password)
    registerSecret(decodeURIComponent(password))
  } catch {
    // Not a URL: nothing to register; its parser reports it.
  }
}

/** Registers the secrets an environment holds: DATABASE_URL's password, *_PASSWORD, *_SECRET… */
export function registerEnvSecrets(env: NodeJS.ProcessEnv = process.env): void {
  registerUrlSecret(env.DATABASE_URL)
  for (const [name, value] of Object.entries(env)) if (SECRET_VARIABLE.test(name)) registerSecret(value)
}

/** `text` with every known secret, and the password part of any URL, replaced by ***. */
export function redact(text: string): string {
  let result = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]*:)([^\s@/'"]+)@/gi, `$1${MASK}@`)
  for (const secret of longestFirst) {
    if (result.includes(secret)) result = result.replaceAll(secret, MASK)
  }
  return result
}
