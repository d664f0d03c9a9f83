import { createHash, randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import type { Db } from '../db/client.ts'
import type { SignInGrant } from './sign-in-code.ts'

/** A console session lasts a working day; signing out ends it at once. */
export const SESSION_TTL_SECONDS = 12 * 3600
/** Console session tokens are opaque: this prefix tells them from JWTs at a glance and in the auth hook. */
export const SESSION_TOKEN_PREFIX = 'hcs_'

export interface ConsoleSession {
  tenant: string
  role: 'ADMIN' | 'EXPLOIT'
  subject: string
  expiresAt: Date
}

/** Only the token's hash is stored: a database dump opens no session. */
const hashOf = (token: string) => createHash('sha256').update(token).digest('hex')

/**
 * Exchanges a verified sign-in code for a session, once: the code's nonce is recorded in the same
 * transaction, so a second exchange of the same code (or a race of two) finds it and opens nothing.
 */
export async function openSession(db: Db, grant: SignInGrant): Promise<{ token: string; session: ConsoleSession } | { refused: string }> {
  const token = SESSION_TOKEN_PREFIX + randomBytes(32).toString('base64url')
  const expiresAt = new Date(Date.now() + SESSION_TTL_SECONDS * 1000)
  return db.transaction().execute(async (tx) => {
    const { rows } = await sql`insert into console_sign_in_code (nonce, expires_at) values (${grant.nonce}, ${new Date(grant.expiresAt * 1000)})
      on conflict (nonce) do nothing returning nonce`.execute(tx)
    if (rows.length === 0) return { refused: 'this sign-in code was already used: ask for a new one with herald console' }
    await sql`insert into console_session (token_hash, tenant, role, subject, expires_at)
      values (${hashOf(token)}, ${grant.tenant}, ${grant.role}, ${grant.subject}, ${expiresAt})`.execute(tx)
    // Used codes are kept only as long as they could still be presented.
    await sql`delete from console_sign_in_code where expires_at < now() - interval '1 hour'`.execute(tx)
    await sql`delete from console_session where expires_at < now() - interval '1 day'`.execute(tx)
    return { token, session: { tenant: grant.tenant, role: grant.role, subject: grant.subject, expiresAt } }
  })
}

/** The live session a token opens, or undefined (unknown, expired or signed out). */
export async function findSession(db: Db, token: string): Promise<ConsoleSession | undefined> {
  const { rows } = await sql<{ tenant: string; role: 'ADMIN' | 'EXPLOIT'; subject: string; expires_at: Date }>`
    select tenant, role, subject, expires_at from console_session
    where token_hash = ${hashOf(token)} and revoked_at is null and expires_at > now()`.execute(db)
  const row = rows[0]
  return row && { tenant: row.tenant, role: row.role, subject: row.subject, expiresAt: new Date(row.expires_at) }
}

export async function closeSession(db: Db, token: string): Promise<void> {
  await sql`update console_session set revoked_at = now() where token_hash = ${hashOf(token)} and revoked_at is null`.execute(db)
}
