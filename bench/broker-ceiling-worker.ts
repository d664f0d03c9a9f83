/**
 * The broker's ceiling for Herald's AMQP work: a bare process doing what Herald does on the wire for each
 * request, with no database and no logic. It consumes rs-notifier's queue (declared with REGARDS'
 * arguments, as Herald declares it), publishes GRANTED, one delivery per recipient and SUCCESS with
 * confirms, and acks the request once those are confirmed. Spawned by bench/notifier.ts with the vhost's
 * URL and the recipients' exchanges; measured by the same load client as Herald.
 */
import { Connection } from 'rabbitmq-client'
import { NOTIFICATION_REQUEST_EXCHANGE, NOTIFICATION_REQUEST_QUEUE, NOTIFIER_EVENT_EXCHANGE, declareConsumerTopology } from '../src/amqp/topology.ts'

const [url, prefetchArg, ...recipientExchanges] = process.argv.slice(2)
const prefetch = Number(prefetchArg)
const rabbit = new Connection({ url, noDelay: true })
rabbit.on('error', (err) => process.stderr.write(`[ceiling] ${err}\n`))

await declareConsumerTopology(rabbit, NOTIFICATION_REQUEST_EXCHANGE, NOTIFICATION_REQUEST_QUEUE)
const publisher = rabbit.createPublisher({ confirm: true })

const event = (tenant: string, requestId: string, state: string) =>
  publisher.send(
    { exchange: NOTIFIER_EVENT_EXCHANGE, durable: true, priority: 1, contentType: 'application/json', contentEncoding: 'UTF-8', headers: { 'regards.tenant': tenant } },
    Buffer.from(JSON.stringify({ requestId, requestOwner: 'bench', state, recipients: [] })),
  )

const consumer = rabbit.createConsumer(
  { queue: NOTIFICATION_REQUEST_QUEUE, queueOptions: { passive: true }, qos: { prefetchCount: prefetch }, concurrency: prefetch },
  async (msg) => {
    const tenant = String(msg.headers?.['regards.tenant'])
    const requestId = String(msg.headers?.['regards.request.id'])
    const { payload, metadata } = JSON.parse((msg.body as Buffer).toString('utf8'))
    const delivery = Buffer.from(JSON.stringify({ payload, metadata }))
    await event(tenant, requestId, 'GRANTED')
    await Promise.all(recipientExchanges.map((exchange) => publisher.send({ exchange, durable: true, contentType: 'application/json', contentEncoding: 'UTF-8' }, delivery)))
    await event(tenant, requestId, 'SUCCESS')
  },
)

const stop = async () => {
  await consumer.close()
  await publisher.close()
  await rabbit.close()
  process.exit(0)
}
process.once('SIGTERM', stop)
