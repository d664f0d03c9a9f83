import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** A sign-in link is good for 5 minutes, and for one sign-in. */
export const SIGN_IN_CODE_TTL_SECONDS = 300

export interface SignInGrant {
  tenant: string
  role: 'ADMIN' | 'EXPLOIT'
  /** Who asked for the link (`--subject`), recorded on the session and in the server's logs. */
  subject: string
  /** Single-use marker: the server records it when the code is exchanged. */
  nonce: string
  /** Seconds since the epoch. */
  expiresAt: number
}

/**
 * The key that signs sign-in codes, derived from the instance's HS256 secret so that `herald console`
 * (another process, which may not open the database: PGlite allows one process) and the server agree
 * without sharing anything else, and a code can never be mistaken for an API token.
 */
function codeKey(secret: Buffer): Buffer {
  return createHmac('sha256', secret).update('herald console sign-in code v1').digest()
}

/**
 * A one-time sign-in code for the web console.
 *
 * @example createSignInCode(secret, { tenant: 'project1', role: 'ADMIN', subject: 'alice' })
 */
export function createSignInCode(secret: Buffer, grant: Pick<SignInGrant, 'tenant' | 'role' | 'subject'>, now = Date.now()): string {
  const full: SignInGrant = { ...grant, nonce: randomBytes(16).toString('base64url'), expiresAt: Math.floor(now / 1000) + SIGN_IN_CODE_TTL_SECONDS }
  const body = Buffer.from(JSON.stringify(full), 'utf8').toString('base64url')
  return `${body}.${createHmac('sha256', codeKey(secret)).update(body).digest('base64url')}`
}

/** The grant a code carries, or why it is refused (forged, malformed, expired). Single use is the caller's check. */
export function readSignInCode(secret: Buffer, code: string, now = Date.now()): SignInGrant | { refused: string } {
  const [body, mac, extra] = code.split('.')
  if (!body || !mac || extra !== undefined || code.length > 1024) return { refused: 'this is not a sign-in code' }
  const expected = createHmac('sha256', codeKey(secret)).update(body).digest()
  const given = Buffer.from(mac, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { refused: 'this sign-in code was not issued by this Herald' }
  let grant: SignInGrant
  try {
    grant = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
  } catch {
    return { refused: 'this is not a sign-in code' }
  }
  if (!(grant.expiresAt * 1000 > now)) return { refused: 'this sign-in code has expired: ask for a new one with herald console' }
  return grant
}
