import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NOTIFICATION_REQUEST_QUEUE } from '../src/amqp/topology.ts'
import type { Herald } from '../src/main.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { BACKENDS, createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const TENANT = 'redelivery'

/**
 * A request registered and completed, whose message the broker hands out again (the ack was lost in a
 * crash after the commit): Herald must recognise it and answer nothing new.
 */
for (const backend of BACKENDS) {
  describe(`${backend}: a broker redelivery of a request already registered`, () => {
    let vhost: Awaited<ReturnType<typeof createVhost>>
    let storage: TestStorage
    let herald: Herald | undefined
    let client: RegardsClient

    beforeAll(async () => {
      vhost = await createVhost()
      storage = await createTestStorage(backend)
      herald = await startTestHerald({ storage, amqpUrl: vhost.url })
      // No rule matches: a request completes (SUCCESS) as soon as it is registered.
      await importConfig(herald, TENANT, [pluginConf('LuceneRuleMatcher', 'none', { metadata_rule: 'action:NEVER' }), association('none', [])])
      client = new RegardsClient(vhost.url)
      await client.listenToEvents()
    }, 120_000)

    afterAll(async () => {
      await client?.close()
      await herald?.stop()
      await storage?.drop()
      await vhost?.drop()
    })

    it('produces no second GRANTED or SUCCESS for the same request id', async () => {
      const requestId = randomUUID()
      const request = { tenant: TENANT, requestId, owner: 'me', body: { payload: { id: requestId }, metadata: { action: 'CREATED' } } }
      await client.publishRequest(request)
      await waitFor(() => client.eventsFor(requestId).some((e) => e.body.state === 'SUCCESS'), 'the first SUCCESS', { timeoutMs: 30_000, wakeOn: client.onMessage })
      await herald!.stop()
      herald = undefined

      // The same message again, taken from the queue and given back unacked: the broker marks it redelivered.
      await client.publishRequest(request)
      const channel = await client.rabbit.acquire()
      let taken
      for (let i = 0; i < 100 && !taken; i++) {
        taken = await channel.basicGet({ queue: NOTIFICATION_REQUEST_QUEUE })
        if (!taken) await new Promise((r) => setTimeout(r, 50))
      }
      expect(taken?.headers?.['regards.request.id']).toBe(requestId)
      await channel.close()
      // Then a request behind it: once it is answered, the redelivered message has been handled.
      const marker = randomUUID()
      await client.publishRequest({ ...request, requestId: marker, body: { payload: { id: marker }, metadata: { action: 'CREATED' } } })

      herald = await startTestHerald({ storage, amqpUrl: vhost.url })
      await waitFor(() => client.eventsFor(marker).some((e) => e.body.state === 'SUCCESS'), 'the marker request answered', { timeoutMs: 30_000, wakeOn: client.onMessage })
      await new Promise((r) => setTimeout(r, 500))
      expect(client.eventsFor(requestId).map((e) => e.body.state)).toEqual(['GRANTED', 'SUCCESS'])
    }, 90_000)
  })
}
