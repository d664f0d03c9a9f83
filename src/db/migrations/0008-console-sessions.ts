import { sql, type Kysely } from 'kysely'

/**
 * Web console sign-in: the one-time codes already exchanged (so a code opens one session only) and the
 * sessions they opened, by the hash of their token (signing out revokes one at once).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create table console_sign_in_code (
    nonce text primary key,
    used_at timestamptz not null default now(),
    expires_at timestamptz not null
  )`.execute(db)
  await sql`create table console_session (
    token_hash text primary key,
    tenant text not null,
    role text not null,
    subject text not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    revoked_at timestamptz
  )`.execute(db)
}
