import { randomUUID } from 'node:crypto'
import { Connection, type AsyncMessage } from 'rabbitmq-client'
import { Broker } from '../../src/amqp/broker.ts'
import { createLogger } from '../../src/log.ts'
import type { DeliveryItem, SenderContext } from '../../src/senders/sender.ts'
import { networkPolicy, parseNetworkList } from '../../src/senders/outbound-network.ts'
import { parseCrossTenantRules } from '../../src/senders/tenant-boundary.ts'
import { createVhost, TEST_PRIVATE_NETWORKS } from './services.ts'

let nextDeliveryId = 1

/** A delivery as the worker hands it to a sender: unique id, first attempt; `over` sets the rest. */
export function deliveryItem(over: Partial<DeliveryItem> & Pick<DeliveryItem, 'tenant'>): DeliveryItem {
  return {
    deliveryId: nextDeliveryId++,
    requestId: randomUUID(),
    requestOwner: 'rs-fem',
    requestDate: new Date(),
    payload: {},
    metadata: { action: 'CREATED' },
    attempt: 1,
    ...over,
  }
}

/** Reads a queue that already exists (declared by the sender), without re-declaring it. */
export async function collectQueue(rabbit: Connection, queue: string, into: AsyncMessage[]) {
  const consumer = rabbit.createConsumer({ queue, queueOptions: { passive: true }, qos: { prefetchCount: 100 } }, async (msg) => {
    into.push(msg)
  })
  await new Promise<void>((resolve, reject) => {
    consumer.once('ready', () => resolve())
    consumer.once('error', reject)
  })
  return consumer
}

/**
 * A sender's context as a test Herald gives it (TEST_PRIVATE_NETWORKS allowed, silent log) for a recipient
 * of tenant project1 that publishes as no other tenant; senders that never publish get no broker.
 */
export function testSenderContext(over: Partial<SenderContext> = {}): SenderContext {
  return { broker: undefined as never, log: createLogger('silent'), network: networkPolicy(parseNetworkList(TEST_PRIVATE_NETWORKS)), tenant: 'project1', crossTenantPublish: [], ...over }
}

/** A vhost of its own, the senders' context on it (a Broker), and a plain connection to read what they publish. */
export interface SenderBroker {
  ctx: SenderContext
  rabbit: Connection
  close(): Promise<void>
}

export async function openSenderBroker(): Promise<SenderBroker> {
  const vhost = await createVhost()
  const log = createLogger('silent')
  const broker = new Broker(vhost.url, 'REGARDS', log)
  const rabbit = new Connection({ url: vhost.url })
  rabbit.on('error', () => {})
  return {
    // The senders' own tests check what they publish for any tenant (test/tenant-boundary.test.ts checks the boundary).
    ctx: testSenderContext({ broker, crossTenantPublish: parseCrossTenantRules('*') }),
    rabbit,
    async close() {
      await broker.close()
      await rabbit.close()
      await vhost.drop()
    },
  }
}
