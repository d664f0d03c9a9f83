/**
 * The database's floor for Herald's rows: what PostgreSQL's CPU per request is when the rows Herald keeps
 * for a request are written with nothing else — a request with its payload and its two deliveries
 * inserted, both deliveries marked sent, then all three deleted and the request copied to a history
 * table with its payload — in batches, one statement each, on a backend of its own in a database of its
 * own. Herald's `cpu_per_request.postgresql` next to it is what its transactions, claims, locks, reads and
 * outbox cost beyond the rows themselves.
 */
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { PG_ADMIN_URL } from '../test/support/services.ts'
import { cpuSeconds, sampleRequest } from './harness.ts'

const TABLES = `
  create table request (id bigserial primary key, request_id text not null unique, state text not null, payload jsonb not null, metadata jsonb not null, received_at timestamptz not null default now());
  create table delivery (id bigserial primary key, request_pk bigint not null, recipient_id bigint not null, state text not null, updated_at timestamptz not null default now());
  create index on delivery (request_pk);
  create table history (id bigint primary key, request_id text not null, state text not null, payload jsonb not null, metadata jsonb not null, completed_at timestamptz not null default now());`

/** CPU µs per request of the backend that wrote `requests` requests in batches of `batchSize`. */
export async function postgresFloor(opts: { requests: number; batchSize: number }): Promise<number> {
  const database = `herald_floor_${randomUUID().replaceAll('-', '')}`
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL })
  await admin.connect()
  await admin.query(`create database ${database}`)
  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/${database}`
  const db = new pg.Client({ connectionString: url.toString() })
  try {
    await db.connect()
    await db.query(TABLES)
    const { rows: [{ pid }] } = await db.query<{ pid: number }>('select pg_backend_pid() as pid')
    const before = cpuSeconds(pid)
    for (let written = 0; written < opts.requests; written += opts.batchSize) {
      const rows = Array.from({ length: opts.batchSize }, () => {
        const requestId = randomUUID()
        return { request_id: requestId, ...sampleRequest(requestId) }
      })
      const { rows: inserted } = await db.query<{ id: string }>(
        `with r as (
           insert into request (request_id, state, payload, metadata)
           select request_id, 'SCHEDULED', payload, metadata from jsonb_to_recordset($1::jsonb) as t(request_id text, payload jsonb, metadata jsonb)
           returning id
         ), d as (insert into delivery (request_pk, recipient_id, state) select r.id, recipient, 'PENDING' from r, (values (1), (2)) as v(recipient))
         select id from r`,
        [JSON.stringify(rows)],
      )
      const ids = inserted.map((r) => r.id)
      await db.query(`update delivery set state = 'SUCCESS', updated_at = now() where request_pk = any($1::bigint[])`, [ids])
      await db.query(
        `with gone as (delete from delivery where request_pk = any($1::bigint[])), moved as (delete from request where id = any($1::bigint[]) returning *)
         insert into history (id, request_id, state, payload, metadata) select id, request_id, 'SUCCESS', payload, metadata from moved`,
        [ids],
      )
    }
    return ((cpuSeconds(pid) - before) / opts.requests) * 1e6
  } finally {
    await db.end()
    await admin.query(`drop database if exists ${database}`)
    await admin.end()
  }
}
