import type { AsyncMessage } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Broker } from '../src/amqp/broker.ts'
import { BatchConsumer } from '../src/amqp/consume-batches.ts'
import { DLX, dedicatedDlq } from '../src/amqp/topology.ts'
import { createLogger } from '../src/log.ts'
import { createVhost } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const EXCHANGE = 'test.dead-lettering'
const QUEUE = 'test.dead-lettering.q'
const DLQ = dedicatedDlq(QUEUE)

/**
 * Herald's own dead-lettering, against the real broker, when the DLQ is gone: the broker would confirm a
 * message published to `regards.DLX` that no queue receives and drop it. Published mandatory, the message
 * comes back, is not acked, and stays in its queue until the DLQ exists again.
 */
describe('dead-lettering to a DLQ that was deleted', () => {
  let vhost: Awaited<ReturnType<typeof createVhost>>
  let broker: Broker
  let consumer: BatchConsumer
  let handled = 0

  beforeAll(async () => {
    vhost = await createVhost()
    broker = new Broker(vhost.url, 'test', createLogger('silent'))
    consumer = new BatchConsumer(broker, {
      exchange: EXCHANGE,
      queue: QUEUE,
      batchSize: 10,
      prefetch: 20,
      log: createLogger('silent'),
      handler: async (messages) => {
        handled += messages.length
        return messages.map(() => ({ deadLetter: 'not a request' }))
      },
    })
    await consumer.start()
  })

  afterAll(async () => {
    await consumer?.stop()
    await broker?.close()
    await vhost?.drop()
  })

  it('keeps the message in its queue, and dead-letters it once the DLQ is back', async () => {
    // An operator deletes the DLQ (the consumer declared it at start).
    await broker.connection.queueDelete({ queue: DLQ })
    await broker.publish({ exchange: EXCHANGE, headers: { marker: 'm1' }, body: '{"not":"a request"}' })
    // Redelivered: the first dead-lettering was refused and the message requeued, not acked.
    await waitFor(() => handled >= 2, 'the message to come back after a refused dead-lettering')

    await broker.connection.queueDeclare({ queue: DLQ, durable: true, arguments: { 'x-max-priority': 255 } })
    await broker.connection.queueBind({ queue: DLQ, exchange: DLX, routingKey: DLQ })
    const dead: AsyncMessage[] = []
    const reader = broker.connection.createConsumer({ queue: DLQ, queueOptions: { passive: true } }, (msg) => {
      dead.push(msg)
    })
    try {
      await waitFor(() => dead.length === 1, 'the message in the DLQ')
      expect(dead[0].headers).toMatchObject({ marker: 'm1', 'x-exception-message': 'not a request', 'x-death-queue': QUEUE })
      expect(dead[0].body.toString()).toBe('{"not":"a request"}')
    } finally {
      await reader.close()
    }
    const { messageCount } = await broker.connection.queueDeclare({ queue: QUEUE, passive: true })
    expect(messageCount).toBe(0)
  })
})
