/**
 * Soak: `node --import tsx bench/soak.ts --minutes N [--rate R]` (default 5 minutes, 100 requests/s).
 *
 * One Herald process (notifier + http, PostgreSQL) receives a steady mix for N minutes: valid requests
 * (counted by the ledger: lost must be 0) and junk (missing or oversized headers, invalid UTF-8, bodies
 * that are not JSON: DENIED or dead-lettered). Every 10 s it samples the process's RSS (/proc VmRSS) and
 * event-loop lag (prom-client's nodejs_eventloop_lag_p99_seconds from /metrics). Passes when RSS and lag
 * stay flat: the last third's median within 25 % (RSS) / 50 ms (lag p99) of the second third's.
 */
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import { Connection } from 'rabbitmq-client'
import { NOTIFICATION_REQUEST_EXCHANGE, NOTIFICATION_REQUEST_QUEUE } from '../src/amqp/topology.ts'
import { FAULT_RECIPIENTS, Ledger, LedgerClient, prepareFaultStorage } from '../test/support/ledger.ts'
import { spawnHerald, waitConsumers } from '../test/support/herald-process.ts'
import { createTestStorage, createVhost, freePort } from '../test/support/services.ts'
import { median, progress, writeJson } from './harness.ts'

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const MINUTES = arg('minutes', 5)
const RATE = arg('rate', 100)
const JUNK_EVERY = 10 // one junk message per 10 valid ones

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024

async function lagP99Ms(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  return Number(/^nodejs_eventloop_lag_p99_seconds (\S+)/m.exec(text)?.[1] ?? NaN) * 1000
}

const junk = (i: number): { headers: Record<string, unknown>; body: Buffer } => {
  switch (i % 4) {
    case 0:
      return { headers: { 'regards.tenant': 'faults' }, body: Buffer.from('{}') } // no request id: DLQ
    case 1:
      return { headers: { 'regards.tenant': 'faults', 'regards.request.id': 'x'.repeat(80) }, body: Buffer.from('{}') } // DENIED
    case 2:
      return { headers: { 'regards.tenant': 'faults', 'regards.request.id': randomUUID() }, body: Buffer.from([0xff, 0xfe, 0x00, 0xc3]) } // invalid UTF-8: DENIED
    default:
      return { headers: { 'regards.tenant': 'faults', 'regards.request.id': randomUUID(), 'regards.request.date': 'yesterday' }, body: Buffer.from('not json') }
  }
}

async function main() {
  const vhost = await createVhost()
  const storage = await createTestStorage('postgres')
  const port = await freePort()
  await prepareFaultStorage(storage)
  const herald = spawnHerald({ amqpUrl: vhost.url, storage, roles: 'notifier,http', env: { HERALD_HTTP_PORT: String(port) } })
  const ledger = new Ledger(Object.keys(FAULT_RECIPIENTS))
  const client = new LedgerClient(vhost.url, ledger)
  const rabbit = new Connection({ url: vhost.url, noDelay: true })
  rabbit.on('error', () => {})
  const junkPublisher = rabbit.createPublisher({ confirm: true })
  const samples: { t: number; rssMiB: number; lagP99Ms: number; done: number }[] = []
  try {
    await client.listen(FAULT_RECIPIENTS)
    await waitConsumers(vhost.url, NOTIFICATION_REQUEST_QUEUE, 1)
    progress(`soak: ${MINUTES} min at ${RATE} requests/s (+1 junk per ${JUNK_EVERY})`)
    const begin = Date.now()
    const end = begin + MINUTES * 60_000
    let nextSample = begin + 10_000
    const pending = new Set<Promise<void>>()
    for (let i = 0; Date.now() < end; i++) {
      const p = client.publish(randomUUID()).finally(() => pending.delete(p))
      pending.add(p)
      if (i % JUNK_EVERY === 0) {
        const j = junk(i / JUNK_EVERY)
        void junkPublisher.send({ exchange: NOTIFICATION_REQUEST_EXCHANGE, headers: j.headers, durable: true, priority: 1 }, j.body).catch(() => {})
      }
      if (pending.size > 2000) await Promise.race(pending)
      const due = begin + (i / RATE) * 1000
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()))
      if (Date.now() >= nextSample) {
        nextSample += 10_000
        const sample = { t: (Date.now() - begin) / 1000, rssMiB: rssMiB(herald.pid), lagP99Ms: await lagP99Ms(port).catch(() => NaN), done: ledger.done }
        samples.push(sample)
        progress(`t=${sample.t.toFixed(0)} s  rss ${sample.rssMiB.toFixed(0)} MiB  lag p99 ${sample.lagP99Ms.toFixed(1)} ms  done ${sample.done}/${ledger.published.size}`)
      }
      if (herald.child.exitCode !== null || herald.child.signalCode !== null) throw new Error('Herald exited during the soak')
    }
    await Promise.all(pending)
    const settled = await ledger.waitSettled(120_000)
    console.log(ledger.format(`soak ${MINUTES} min`))
    const third = Math.max(1, Math.floor(samples.length / 3))
    const mid = samples.slice(third, 2 * third)
    const last = samples.slice(-third)
    const rssGrowth = median(last.map((s) => s.rssMiB)) / median(mid.map((s) => s.rssMiB))
    const lagDelta = median(last.map((s) => s.lagP99Ms)) - median(mid.map((s) => s.lagP99Ms))
    const flat = rssGrowth <= 1.25 && lagDelta <= 50
    console.log(`RSS ${median(mid.map((s) => s.rssMiB)).toFixed(0)} → ${median(last.map((s) => s.rssMiB)).toFixed(0)} MiB (×${rssGrowth.toFixed(2)}), event-loop lag p99 ${lagDelta >= 0 ? '+' : ''}${lagDelta.toFixed(1)} ms: ${flat ? 'flat' : 'GROWING'}`)
    writeJson(new URL('./soak-report.json', import.meta.url).pathname, { minutes: MINUTES, rate: RATE, samples, ledger: ledger.report(), rssGrowth, lagDelta, flat })
    return settled && ledger.report().lost === 0 && flat
  } finally {
    await client.close()
    await junkPublisher.close()
    await rabbit.close()
    await herald.kill()
    await storage.drop()
    await vhost.drop()
  }
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
