import { sql } from 'kysely'
import client, { type Registry } from 'prom-client'
import type { Db } from '../db/client.ts'
import type { Logger } from '../log.ts'
import { OTHER_TENANT } from '../metrics.ts'
import { countDeadLetters } from '../dead-letters/store.ts'

/**
 * Gauges read from the database at scrape time, so every instance reports the same truth whichever
 * did the work: per-recipient backlog and oldest waiting age, outbox lag, dead letters waiting.
 * One scrape costs three grouped queries and a read of the configured tenants (a few ms on an idle
 * database, ~50 ms with 100,000 waiting deliveries); a failing query leaves the previous values and logs why.
 */
export function registerDatabaseGauges(registry: Registry, db: Db, log: Logger, tenants: ReadonlySet<string> | undefined): void {
  if (registry.getSingleMetric('herald_recipient_backlog')) return
  let snapshot: Promise<Snapshot> | undefined
  // The gauges of one scrape share one read: each collect() awaits the same promise.
  const read = () => {
    snapshot ??= readSnapshot(db).finally(() => setTimeout(() => (snapshot = undefined), 0))
    return snapshot
  }
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: client.Gauge, s: Snapshot) => void) =>
    new client.Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        try {
          const s = await read()
          this.reset()
          fill(this, s)
        } catch (err) {
          log.warn({ err, metric: name }, 'metrics: database read failed')
        }
      },
    })
  gauge('herald_recipient_backlog', 'Deliveries waiting to be sent (PENDING), per recipient', ['tenant', 'recipient'], (g, s) => {
    for (const r of s.recipients) g.set({ tenant: r.tenant, recipient: r.recipient }, r.backlog)
  })
  gauge('herald_recipient_oldest_waiting_seconds', 'Age of the request date of the oldest waiting delivery, per recipient', ['tenant', 'recipient'], (g, s) => {
    for (const r of s.recipients) g.set({ tenant: r.tenant, recipient: r.recipient }, r.oldest)
  })
  gauge('herald_recipient_errors', 'Deliveries in ERROR waiting for a manual retry, per recipient', ['tenant', 'recipient'], (g, s) => {
    for (const r of s.recipients) g.set({ tenant: r.tenant, recipient: r.recipient }, r.errors)
  })
  gauge('herald_outbox_rows', 'Events written but not yet published (outbox lag, rows)', [], (g, s) => g.set(s.outbox.rows))
  gauge('herald_outbox_oldest_seconds', 'Age of the oldest unpublished event (outbox lag, time)', [], (g, s) => g.set(s.outbox.oldest))
  gauge('herald_dead_letters', 'Dead-lettered messages collected and not yet replayed or discarded', ['tenant', 'queue'], (g, s) => {
    // A dead letter's tenant is whatever its message said: unconfigured ones are summed under `other`.
    const label = (tenant: string | null) => (tenant === null ? '' : tenants?.has(tenant) || s.configured.has(tenant) ? tenant : OTHER_TENANT)
    const counts = new Map<string, { tenant: string; queue: string; count: number }>()
    for (const d of s.deadLetters) {
      const labels = { tenant: label(d.tenant), queue: d.queue }
      const key = JSON.stringify(labels)
      counts.set(key, { ...labels, count: (counts.get(key)?.count ?? 0) + d.count })
    }
    for (const { count, ...labels } of counts.values()) g.set(labels, count)
  })
}

interface Snapshot {
  recipients: { tenant: string; recipient: string; backlog: number; errors: number; oldest: number }[]
  outbox: { rows: number; oldest: number }
  deadLetters: { tenant: string | null; queue: string; count: number }[]
  /** Tenants with a configuration. */
  configured: Set<string>
}

async function readSnapshot(db: Db): Promise<Snapshot> {
  const { rows: recipients } = await sql<{ tenant: string; recipient: string; backlog: number; errors: number; oldest: number | null }>`
    select c.tenant, c.business_id as recipient,
      count(d.id) filter (where d.state = 'PENDING')::int as backlog,
      count(d.id) filter (where d.state = 'ERROR')::int as errors,
      extract(epoch from now() - min(d.request_date) filter (where d.state = 'PENDING'))::float8 as oldest
    from plugin_configuration c left join delivery d on d.recipient_id = c.id and d.state in ('PENDING', 'ERROR')
    where c.kind = 'RECIPIENT'
    group by c.tenant, c.business_id`.execute(db)
  const { rows: outbox } = await sql<{ rows: number; oldest: number | null }>`
    select count(*)::int as rows, extract(epoch from now() - min(created_at))::float8 as oldest from outbox`.execute(db)
  return {
    recipients: recipients.map((r) => ({ ...r, oldest: Math.max(0, Number(r.oldest ?? 0)) })),
    outbox: { rows: outbox[0]?.rows ?? 0, oldest: Math.max(0, Number(outbox[0]?.oldest ?? 0)) },
    deadLetters: await countDeadLetters(db),
    configured: new Set((await sql<{ tenant: string }>`select tenant from config_version`.execute(db)).rows.map((r) => r.tenant)),
  }
}
