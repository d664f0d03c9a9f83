/**
 * Herald scaled out on one machine: 1, 2 and 3 instances (`herald start --roles notifier`) on one vhost and
 * one PostgreSQL database, as in production, each count on a fresh pair. For each: the sustained rate of
 * `requests` requests (2 RabbitMQSender recipients each, read by the load client) and the CPU per request
 * of Herald's instances together, of PostgreSQL's backends and of RabbitMQ. On 2 cores more instances
 * cannot add throughput; the figure is what each added instance costs (connections, claims that race,
 * heartbeats), for planning a deployment on more cores.
 *
 *   node --import tsx bench/instances.ts [--requests N]    # this section alone; the full `npm run bench` runs it
 */
import { NOTIFICATION_REQUEST_QUEUE } from '../src/amqp/topology.ts'
import { createTestStorage, createVhost } from '../test/support/services.ts'
import { spawnHerald, waitConsumers } from '../test/support/herald-process.ts'
import { CpuMeter, LoadClient, progress, type Figure } from './harness.ts'
import { configure, RECIPIENT_EXCHANGES, sustainedRun, warmUp } from './notifier.ts'

export interface InstancesPoint {
  instances: number
  rate: number
  /** µs per request: Herald's instances together, PostgreSQL's backends of the database, RabbitMQ. */
  herald: number
  postgresql: number
  rabbitmq: number
  /** Largest peak RSS among the instances, MiB. */
  peakRssMiB: number
}

async function runInstances(instances: number, requests: number): Promise<InstancesPoint> {
  progress(`instances: ${instances} Herald process${instances > 1 ? 'es' : ''}, ${requests} requests`)
  const vhost = await createVhost()
  const storage = await createTestStorage('postgres')
  await configure(storage)
  const heralds = Array.from({ length: instances }, () => spawnHerald({ amqpUrl: vhost.url, storage }))
  const client = new LoadClient(vhost.url)
  const meter = new CpuMeter(heralds.map((h) => h.pid), storage.databaseUrl)
  try {
    await waitConsumers(vhost.url, NOTIFICATION_REQUEST_QUEUE, instances)
    await client.listen()
    await client.readRecipients(RECIPIENT_EXCHANGES)
    await warmUp(client)
    const run = await sustainedRun(client, requests, meter)
    const point = {
      instances,
      rate: run.rate,
      herald: run.cpu.process,
      postgresql: run.cpu.postgresql,
      rabbitmq: run.cpu.rabbitmq,
      peakRssMiB: Math.max(...heralds.map((h) => h.peakRssMiB())),
    }
    progress(`instances: ${instances}: ${point.rate.toFixed(0)} requests/s; CPU µs/request Herald ${point.herald.toFixed(0)}, PostgreSQL ${point.postgresql.toFixed(0)}, RabbitMQ ${point.rabbitmq.toFixed(0)}`)
    return point
  } finally {
    await meter.close()
    await client.close()
    await Promise.all(heralds.map((h) => h.stop()))
    await storage.drop()
    await vhost.drop()
  }
}

export async function benchInstances(opts: { instances: number[]; requests: number }): Promise<Figure[]> {
  const points: InstancesPoint[] = []
  for (const n of opts.instances) points.push(await runInstances(n, opts.requests))
  const one = points[0]
  return points.flatMap((p) => [
    { name: `scale.instances.${p.instances}.rate`, value: p.rate, unit: 'requests/s', reference: p === one ? undefined : one.rate, referenceName: p === one ? undefined : '1 instance' },
    { name: `scale.instances.${p.instances}.cpu_per_request.herald`, value: p.herald, unit: 'µs', reference: p === one ? undefined : one.herald, referenceName: p === one ? undefined : '1 instance' },
    { name: `scale.instances.${p.instances}.cpu_per_request.postgresql`, value: p.postgresql, unit: 'µs', reference: p === one ? undefined : one.postgresql, referenceName: p === one ? undefined : '1 instance' },
    { name: `scale.instances.${p.instances}.cpu_per_request.rabbitmq`, value: p.rabbitmq, unit: 'µs' },
    { name: `scale.instances.${p.instances}.peak_rss`, value: p.peakRssMiB, unit: 'MiB' },
  ])
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--requests')
  const figures = await benchInstances({ instances: [1, 2, 3], requests: i > 0 ? Number(process.argv[i + 1]) : 5000 })
  for (const f of figures) console.log(`${f.name}: ${f.value.toFixed(1)} ${f.unit}${f.reference ? ` (ref ${f.reference.toFixed(1)})` : ''}`)
  process.exit(0)
}
