/**
 * Which replicated queue for Herald on a RabbitMQ 3.10 cluster: the same load on each kind of queue of a
 * three-node loopback cluster (test/support/rabbit-cluster.ts), then the cost of losing the node that holds
 * the queue's leader. Run by hand (< 2 min): `node --import tsx bench/cluster-queues.ts [--messages N]`.
 *
 * Load: N messages of 1 KiB (a notification request's size) published with confirms (500 unconfirmed at
 * most) through node 1, consumed at the same time through node 2 (prefetch 500, one ack per message), as
 * Herald's intake reads its queue. Rate = N / time until the last message is consumed.
 *
 * Failover: the same load, and kill -9 of the leader's node once a third is consumed: the longest pause in
 * consumption, the messages delivered twice (redelivered) and the messages missing.
 */
import { Connection } from 'rabbitmq-client'
import { median, progress } from './harness.ts'
import { startRabbitCluster, type RabbitCluster, type RabbitNode } from '../test/support/rabbit-cluster.ts'

const messagesArg = process.argv.indexOf('--messages')
const MESSAGES = messagesArg > 0 ? Number(process.argv[messagesArg + 1]) : 2_000
const BODY = Buffer.alloc(1024, 'x')

/** The REGARDS queue arguments Herald declares, and the queue types a policy or a declaration may give. */
const KINDS = {
  'classic, not replicated (REGARDS arguments)': { queue: 'bench.plain', arguments: { 'x-max-priority': 255 } },
  'classic mirrored ha-mode all (REGARDS arguments)': { queue: 'ha-all.bench', arguments: { 'x-max-priority': 255 } },
  'classic mirrored ha-mode exactly 2 (REGARDS arguments)': { queue: 'ha-two.bench', arguments: { 'x-max-priority': 255 } },
  'classic mirrored ha-mode all, no x-max-priority (not REGARDS)': { queue: 'ha-all.bench.flat', arguments: {} },
  'quorum, no x-max-priority (not REGARDS)': { queue: 'bench.quorum', arguments: { 'x-queue-type': 'quorum' } },
} as const satisfies Record<string, { queue: string; arguments: QueueArguments }>

type QueueArguments = { 'x-max-priority'?: number; 'x-queue-type'?: 'quorum' }

interface Outcome {
  seconds: number
  rate: number
  /** Longest time without a delivery after the kill, in ms (failover runs). */
  pauseMs?: number
  redelivered: number
  missing: number
}

async function load(publishNode: RabbitNode, consumeNode: RabbitNode, queue: string, args: QueueArguments, kill?: RabbitNode): Promise<Outcome> {
  const publisherConn = new Connection({ url: publishNode.url, noDelay: true, retryLow: 100, retryHigh: 500 })
  const consumerConn = new Connection({ url: consumeNode.url, noDelay: true, retryLow: 100, retryHigh: 500 })
  publisherConn.on('error', () => {})
  consumerConn.on('error', () => {})
  await publisherConn.queueDeclare({ queue, durable: true, arguments: args })
  const seen = new Map<number, number>()
  let lastDelivery = 0
  let pauseMs = 0
  let killedAt = 0
  let done: () => void = () => {}
  const allSeen = new Promise<void>((resolve) => (done = resolve))
  const consumer = consumerConn.createConsumer({ queue, queueOptions: { passive: true }, qos: { prefetchCount: 500 } }, (msg) => {
    const now = performance.now()
    if (killedAt && lastDelivery) pauseMs = Math.max(pauseMs, now - Math.max(lastDelivery, killedAt))
    lastDelivery = now
    const n = Number(msg.messageId)
    seen.set(n, (seen.get(n) ?? 0) + 1)
    if (seen.size === MESSAGES) done()
  })
  consumer.on('error', () => {})
  await new Promise<void>((r) => consumer.once('ready', () => r()))
  const publisher = publisherConn.createPublisher({ confirm: true, maxAttempts: 20 })
  const started = performance.now()
  const killing = kill
    ? (async () => {
        while (seen.size < MESSAGES / 3) await new Promise((r) => setTimeout(r, 5))
        killedAt = performance.now()
        await kill.kill()
      })()
    : Promise.resolve()
  const pending = new Set<Promise<void>>()
  for (let i = 0; i < MESSAGES; i++) {
    const p = publisher.send({ routingKey: queue, messageId: String(i), durable: true, priority: 1 }, BODY).finally(() => pending.delete(p))
    pending.add(p)
    if (pending.size >= 500) await Promise.race(pending)
  }
  await Promise.all(pending)
  await killing
  const timedOut = await Promise.race([allSeen.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 60_000))])
  const seconds = (performance.now() - started) / 1000
  let redelivered = 0
  for (const copies of seen.values()) redelivered += copies - 1
  await consumer.close().catch(() => {})
  await publisher.close().catch(() => {})
  await consumerConn.queueDelete({ queue }).catch(() => {})
  await publisherConn.close().catch(() => {})
  await consumerConn.close().catch(() => {})
  if (timedOut) progress(`${queue}: ${MESSAGES - seen.size} messages still missing after 60 s`)
  return { seconds, rate: MESSAGES / seconds, pauseMs: kill ? Math.round(pauseMs) : undefined, redelivered, missing: MESSAGES - seen.size }
}

/** The node of a quorum queue's leader; a classic queue's master is where it was declared (client-local). */
async function leaderNode(cluster: RabbitCluster, queue: string, declaredOn: RabbitNode): Promise<RabbitNode> {
  const rows = JSON.parse(await cluster.ctl(['list_queues', '-p', cluster.vhost, 'name', 'leader', '--formatter', 'json'])) as { name: string; leader: string }[]
  const leader = rows.find((r) => r.name === queue)?.leader
  return cluster.nodes.find((n) => n.name === leader) ?? declaredOn
}

const cluster = await startRabbitCluster({
  size: 3,
  policies: [
    { name: 'ha-all', pattern: '^ha-all\\.', definition: { 'ha-mode': 'all', 'ha-sync-mode': 'automatic' } },
    { name: 'ha-two', pattern: '^ha-two\\.', definition: { 'ha-mode': 'exactly', 'ha-params': 2, 'ha-sync-mode': 'automatic' } },
  ],
})
try {
  const [n1, n2, n3] = cluster.nodes
  const lines: string[] = [`${MESSAGES} messages of 1 KiB, published through node 1 with confirms, consumed through node 2; median of 3 runs`]
  for (const [kind, { queue, arguments: args }] of Object.entries(KINDS)) {
    const runs: Outcome[] = []
    for (let i = 0; i < 3; i++) runs.push(await load(n1, n2, `${queue}.${i}`, args))
    lines.push(`${kind}: ${Math.round(median(runs.map((r) => r.rate)))} messages/s (${runs.map((r) => Math.round(r.rate)).join(', ')})`)
    progress(lines.at(-1)!)
  }
  // Failover: the queue is declared through the node that is then killed (its leader is there), the
  // publisher and the consumer are on nodes that stay. Quorum first: it needs a majority of its three
  // members, so it is measured while three nodes run; the mirrored queue then on the two that remain.
  const failovers: { kind: string; queue: string; args: QueueArguments; leaderOn: RabbitNode; publishOn: RabbitNode; consumeOn: RabbitNode }[] = [
    { kind: 'quorum', queue: 'bench.quorum.kill', args: { 'x-queue-type': 'quorum' }, leaderOn: n1, publishOn: n2, consumeOn: n3 },
    { kind: 'classic mirrored ha-mode all', queue: 'ha-all.bench.kill', args: { 'x-max-priority': 255 }, leaderOn: n2, publishOn: n3, consumeOn: n3 },
  ]
  for (const { kind, queue, args, leaderOn, publishOn, consumeOn } of failovers) {
    const declare = new Connection({ url: leaderOn.url })
    declare.on('error', () => {})
    await declare.queueDeclare({ queue, durable: true, arguments: args })
    await declare.close()
    const leader = await leaderNode(cluster, queue, leaderOn)
    const outcome = await load(publishOn, consumeOn, queue, args, leader)
    lines.push(
      `${kind}, kill -9 of its leader's node (${leader.name.split('@')[0]}) at a third of the messages: ${Math.round(outcome.rate)} messages/s, ` +
        `longest pause in deliveries ${outcome.pauseMs} ms, ${outcome.redelivered} delivered twice, ${outcome.missing} missing`,
    )
    progress(lines.at(-1)!)
  }
  console.log(lines.join('\n'))
} finally {
  await cluster.stop()
}
