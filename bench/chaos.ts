/**
 * `npm run chaos [-- --quick]`: three Herald instances on one PostgreSQL and one vhost while a producer
 * publishes 50,000 requests (5,000 with --quick), and meanwhile: kill -9 of one instance every few seconds
 * (restarted a second later), one RabbitMQ restart (stop_app / start_app), one PostgreSQL restart, and one
 * recipient failing for 20 s (its exchange re-declared as another type, then restored). Then the ledger: lost must be 0;
 * duplicates are reported.
 *
 * `npm run chaos -- --scenario takeover`: three instances, 20,000 requests at 1,000/s, kill -9 of one
 * instance every 5 s (restarted a second later) until the last publish, nothing else. Targets: lost 0,
 * duplicate events and each recipient's duplicate deliveries ≤ 1 % each, everything settled ≤ 30 s after
 * the last publish (about 1 minute).
 *
 * Loopback only, and the default scenario restarts the shared RabbitMQ and PostgreSQL: never while test
 * suites run (it waits for `pgrep -f vitest` to find nothing). Bounded: about 5 minutes (2 with --quick).
 */
import { execFile } from 'node:child_process'
import os from 'node:os'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { Connection } from 'rabbitmq-client'
import { NOTIFICATION_REQUEST_QUEUE } from '../src/amqp/topology.ts'
import { describeBacklog, FAULT_RECIPIENTS, Ledger, LedgerClient, prepareFaultStorage } from '../test/support/ledger.ts'
import { createTestStorage, createVhost } from '../test/support/services.ts'
import { progress, writeJson } from './harness.ts'
import { spawnHerald, waitConsumers, type HeraldProcess } from '../test/support/herald-process.ts'

const run = promisify(execFile)
const quick = process.argv.includes('--quick')
const scenarioArg = process.argv.indexOf('--scenario')
const takeover = scenarioArg > 0 && process.argv[scenarioArg + 1] === 'takeover'
const REQUESTS = takeover ? 20_000 : quick ? 5_000 : 50_000
const RATE = takeover ? 1_000 : quick ? 150 : 300 // requests/s offered by the producer
const KILL_EVERY_MS = takeover ? 5_000 : quick ? 6_000 : 8_000
// < the 120 s delivery lease: a killed instance's claims must come back through the heartbeat (≤ 4 s).
const SETTLE_MS = 90_000
/** The takeover scenario's targets. */
const MAX_DUPLICATE_RATIO = 0.01
const MAX_SETTLE_AFTER_LAST_PUBLISH_MS = 30_000
const at = (fraction: number) => (REQUESTS / RATE) * 1000 * fraction

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const log: string[] = []
const t0 = Date.now()
function event(line: string) {
  const stamped = `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s  ${line}`
  log.push(stamped)
  progress(stamped)
}

async function waitForQuietServices() {
  for (let i = 0; ; i++) {
    const { stdout } = await run('pgrep', ['-f', 'vitest']).catch(() => ({ stdout: '' }))
    if (!stdout.trim()) return
    if (i === 0) progress('test suites are running (pgrep -f vitest): chaos restarts shared services, waiting…')
    if (i > 120) throw new Error('test suites still running after 10 minutes; not starting chaos')
    await sleep(5000)
  }
}

async function restartRabbit() {
  event('RabbitMQ: stop_app')
  await run('rabbitmqctl', ['-q', 'stop_app'])
  await sleep(3000)
  await run('rabbitmqctl', ['-q', 'start_app'])
  await run('rabbitmqctl', ['-q', 'await_startup']).catch(() => {})
  event('RabbitMQ: start_app done')
}

async function restartPostgres() {
  event('PostgreSQL: restart')
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', '15', 'main', 'restart'])
  event('PostgreSQL: back')
}

/**
 * The recipient fails for `ms`: its exchange is deleted and re-declared as a direct exchange. Instances
 * that declare it from then on (every restarted one) get PRECONDITION_FAILED and retry; instances that
 * declared it before keep publishing to it (RabbitMQ checks the type only on declare), so the ledger's
 * queue stays bound to it with the routing key Herald uses (''), or those deliveries would be dropped
 * unroutable (see docs/benchmarks.md: a RabbitMQSender without a bound queue loses deliveries silently).
 * Then the fanout exchange is restored and re-bound.
 */
async function failRecipient(url: string, recipient: string, ms: number) {
  const { exchange, queue } = FAULT_RECIPIENTS[recipient]
  const rabbit = new Connection({ url, noDelay: true })
  rabbit.on('error', () => {})
  try {
    event(`recipient ${recipient}: exchange ${exchange} re-declared as direct for ${ms / 1000} s`)
    await rabbit.exchangeDelete({ exchange })
    await rabbit.exchangeDeclare({ exchange, type: 'direct', durable: true })
    await rabbit.queueBind({ queue, exchange, routingKey: '' })
    await sleep(ms)
    await rabbit.exchangeDelete({ exchange })
    await rabbit.exchangeDeclare({ exchange, type: 'fanout', durable: true })
    await rabbit.queueBind({ queue, exchange, routingKey: '' })
    event(`recipient ${recipient}: fanout exchange restored`)
  } finally {
    await rabbit.close()
  }
}

async function main() {
  // The takeover scenario restarts no shared service: it may run beside test suites.
  if (!takeover) await waitForQuietServices()
  const vhost = await createVhost()
  const storage = await createTestStorage('postgres')
  const heralds: HeraldProcess[] = []
  const ledger = new Ledger(Object.keys(FAULT_RECIPIENTS))
  const client = new LedgerClient(vhost.url, ledger)
  let stopChaos = false
  try {
    // Retries outlast every fault of the run: nothing should end in ERROR.
    await prepareFaultStorage(storage, { policy: { maxAttempts: 1000, retryMaxDelayMs: 3000, probeIntervalMs: 3000 } })
    const start = (i: number) => (heralds[i] = spawnHerald({ amqpUrl: vhost.url, storage }))
    for (let i = 0; i < 3; i++) start(i)
    await client.listen(FAULT_RECIPIENTS)
    await waitConsumers(vhost.url, NOTIFICATION_REQUEST_QUEUE, 3)
    event(`${takeover ? 'takeover scenario: ' : ''}3 instances up; publishing ${REQUESTS} requests at ${RATE}/s`)

    // The producer: a steady rate, each publish retried until confirmed (across the broker restart).
    const producer = (async () => {
      const pending = new Set<Promise<void>>()
      const begin = Date.now()
      for (let i = 0; i < REQUESTS; i++) {
        const p = client.publish(randomUUID()).finally(() => pending.delete(p))
        pending.add(p)
        if (pending.size >= 1000) await Promise.race(pending)
        const due = begin + (i / RATE) * 1000
        if (due > Date.now()) await sleep(due - Date.now())
      }
      await Promise.all(pending)
      event(`producer: ${REQUESTS} published and confirmed (${client.republished} publishes retried)`)
      return Date.now()
    })()

    let crashes = 0
    const killer = (async () => {
      let kills = 0
      while (!stopChaos) {
        await sleep(KILL_EVERY_MS)
        if (stopChaos) break
        for (const [k, h] of heralds.entries()) {
          if (h.child.exitCode !== null || (h.child.signalCode !== null && h.child.signalCode !== 'SIGKILL')) {
            event(`instance ${k} (pid ${h.pid}) exited by itself (code ${h.child.exitCode}, signal ${h.child.signalCode}): restarting it`)
            crashes++
            start(k)
          }
        }
        const i = kills++ % 3
        await heralds[i].kill()
        event(`kill -9 instance ${i} (pid ${heralds[i].pid}); done so far ${ledger.done}`)
        await sleep(1000)
        start(i)
      }
      return kills
    })()

    const faults = (async () => {
      if (takeover) return
      await sleep(at(0.25))
      await restartRabbit()
      await sleep(at(0.15))
      await restartPostgres()
      await sleep(at(0.15))
      await failRecipient(vhost.url, 'rcp-b', 20_000)
    })()

    const [lastPublishAt] = await Promise.all([producer, faults])
    stopChaos = true
    event(`chaos over; waiting for the ledger to settle (≤ ${SETTLE_MS / 1000} s: killed instances' claims come back within 4 s of their death)`)
    const settling = ledger.waitSettled(SETTLE_MS, (n) => event(`settled ${n}/${REQUESTS}`)).then((ok) => ({ ok, at: Date.now() }))
    const kills = await killer
    const { ok: settled, at: settledAt } = await settling
    const settledAfterMs = settledAt - lastPublishAt
    event(`settled ${settled ? '' : 'NOT '}${(settledAfterMs / 1000).toFixed(1)} s after the last publish`)
    await sleep(2000)
    if (!settled) event(`not settled:\n${await describeBacklog(storage.databaseUrl!, vhost.name)}`)
    const report = ledger.report()
    const text = ledger.format(
      takeover
        ? `chaos --scenario takeover: ${REQUESTS} requests at ${RATE}/s, 3 instances, ${kills} kills (one every ${KILL_EVERY_MS / 1000} s)`
        : `chaos: ${REQUESTS} requests, 3 instances, ${kills} kills, RabbitMQ and PostgreSQL restarted, a recipient down 20 s`,
    )
    console.log(text)
    console.log(`missing per recipient: ${JSON.stringify(ledger.missingByRecipient())}`)
    const perRecipient = ledger.duplicatesByRecipient()
    const eventRatio = report.duplicateEvents / REQUESTS
    const recipientRatios = Object.fromEntries(Object.entries(perRecipient).map(([r, d]) => [r, d.duplicates / REQUESTS]))
    console.log(`duplicate events ${report.duplicateEvents} (${(100 * eventRatio).toFixed(2)} %); duplicate deliveries per recipient: ${Object.entries(perRecipient).map(([r, d]) => `${r} ${d.duplicates} (${((100 * d.duplicates) / REQUESTS).toFixed(2)} %)`).join(', ')}`)
    console.log(`settled ${(settledAfterMs / 1000).toFixed(1)} s after the last publish; machine load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
    console.log(`peak RSS of the instances: ${heralds.map((h) => `${h.peakRssMiB().toFixed(0)} MiB`).join(', ')}`)
    console.log(`instances that exited by themselves: ${crashes}`)
    const reportFile = takeover ? './chaos-takeover-report.json' : './chaos-report.json'
    writeJson(new URL(reportFile, import.meta.url).pathname, {
      scenario: takeover ? 'takeover' : 'faults',
      quick,
      settled,
      settledAfterLastPublishS: settledAfterMs / 1000,
      report,
      duplicatesByRecipient: perRecipient,
      kills,
      crashes,
      loadAverage: os.loadavg(),
      timeline: log,
      seconds: (Date.now() - t0) / 1000,
    })
    const targets = takeover
      ? eventRatio <= MAX_DUPLICATE_RATIO && Object.values(recipientRatios).every((r) => r <= MAX_DUPLICATE_RATIO) && settledAfterMs <= MAX_SETTLE_AFTER_LAST_PUBLISH_MS
      : true
    const ok = settled && report.lost === 0 && report.conflictingEvents === 0 && crashes === 0 && targets
    console.log(ok ? `CHAOS PASSED: lost = 0${takeover ? ', duplicates ≤ 1 %, settled ≤ 30 s after the last publish' : ''}` : 'CHAOS FAILED')
    return ok
  } finally {
    stopChaos = true
    await Promise.all(heralds.map((h) => h.kill()))
    await client.close()
    await storage.drop().catch(() => {})
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
