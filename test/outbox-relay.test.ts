import { sql } from 'kysely'
import type { AsyncMessage } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Broker, type OutgoingMessage } from '../src/amqp/broker.ts'
import { insertOutbox, OutboxRelay } from '../src/amqp/outbox-relay.ts'
import { createLogger } from '../src/log.ts'
import { waitFor } from './support/sender-rig.ts'
import { BACKENDS, createVhost, openTestDatabase, type TestDatabase } from './support/services.ts'

const EXCHANGE = 'test.outbox-relay'

/** A relay round where some publishes are refused: the confirmed rows go, the others stay for the next round. */
for (const backend of BACKENDS) {
  describe(`${backend}: outbox relay with publishes refused by the broker`, () => {
    let database: TestDatabase
    let vhost: Awaited<ReturnType<typeof createVhost>>
    let broker: Broker
    let consumer: { close(): Promise<void> } | undefined
    const received: string[] = []

    beforeAll(async () => {
      database = await openTestDatabase(backend)
      vhost = await createVhost()
      broker = new Broker(vhost.url, 'test', createLogger('silent'))
      await broker.connection.exchangeDeclare({ exchange: EXCHANGE, type: 'fanout', durable: true })
      await broker.connection.queueDeclare({ queue: `${EXCHANGE}.q`, durable: true })
      await broker.connection.queueBind({ queue: `${EXCHANGE}.q`, exchange: EXCHANGE })
      consumer = broker.connection.createConsumer({ queue: `${EXCHANGE}.q`, queueOptions: { passive: true } }, (msg: AsyncMessage) => {
        received.push(Buffer.isBuffer(msg.body) ? msg.body.toString('utf8') : String(msg.body))
      })
    })

    afterAll(async () => {
      await consumer?.close()
      await broker?.close()
      await vhost?.drop()
      await database?.drop()
    })

    it('deletes the confirmed rows, keeps the refused ones and publishes only those again', async () => {
      const bodies = ['e1', 'refused-1', 'e2', 'refused-2', 'e3']
      await database.db.transaction().execute((tx) => insertOutbox(tx, bodies.map((body) => ({ exchange: EXCHANGE, headers: {}, body }))))
      let refuse = true
      // The real broker, except that it refuses the rows marked refused while `refuse` holds.
      const picky = {
        publish: (message: OutgoingMessage) =>
          refuse && String(message.body).startsWith('refused') ? Promise.reject(new Error('connection dropped')) : broker.publish(message),
      } as Broker
      const relay = new OutboxRelay(database.db, picky, createLogger('silent'))

      await expect(relay.relayOnce()).rejects.toThrow('2 of 5 outbox events unconfirmed by the broker: connection dropped')
      const left = await sql<{ body: string }>`select body from outbox order by id`.execute(database.db)
      expect(left.rows.map((r) => r.body)).toEqual(['refused-1', 'refused-2'])

      refuse = false
      expect(await relay.relayOnce()).toBe(2)
      expect((await sql`select 1 from outbox`.execute(database.db)).rows).toHaveLength(0)
      await waitFor(() => received.length >= 5, 'the five events in the queue')
      expect([...received].sort()).toEqual(['e1', 'e2', 'e3', 'refused-1', 'refused-2'])
      expect(relay.published).toBe(5)
    })
  })
}
