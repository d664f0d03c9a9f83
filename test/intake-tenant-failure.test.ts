import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Herald } from '../src/main.ts'
import { RegardsClient } from './support/amqp-client.ts'
import { association, importConfig, pluginConf, startTestHerald } from './support/herald.ts'
import { BACKENDS, createTestStorage, createVhost, type TestStorage } from './support/services.ts'
import { waitFor } from './support/wait-for.ts'

const COMMITS = 'intake_commits'
const FAILS_ONCE = 'intake_fails_once'
const PER_TENANT = 10

/**
 * One intake batch with two tenants' requests, the second tenant's transaction failing once (a trigger
 * refuses its first insert; a sequence counts the attempts, as a sequence is not rolled back with the
 * transaction): the first tenant's commit stands, and only the second tenant's messages are handled again.
 * No rule matches, so each request is answered GRANTED then SUCCESS at intake, in the same transaction.
 */
for (const backend of BACKENDS) {
  describe(`${backend}: an intake batch where one tenant's transaction fails once`, () => {
    let vhost: Awaited<ReturnType<typeof createVhost>>
    let storage: TestStorage
    let herald: Herald | undefined
    let client: RegardsClient

    beforeAll(async () => {
      vhost = await createVhost()
      storage = await createTestStorage(backend)
      herald = await startTestHerald({ storage, amqpUrl: vhost.url })
      for (const tenant of [COMMITS, FAILS_ONCE]) {
        await importConfig(herald, tenant, [pluginConf('LuceneRuleMatcher', 'none', { metadata_rule: 'action:NEVER' }), association('none', [])])
      }
      await sql`create sequence fail_once_attempts`.execute(herald.ctx.db)
      await sql.raw(`create function fail_once() returns trigger language plpgsql as $$
        begin
          if new.tenant = '${FAILS_ONCE}' and nextval('fail_once_attempts') = 1 then
            raise exception 'the first registration of tenant ${FAILS_ONCE} fails';
          end if;
          return new;
        end $$`).execute(herald.ctx.db)
      await sql`create trigger fail_once before insert on notification_request for each row execute function fail_once()`.execute(herald.ctx.db)
      client = new RegardsClient(vhost.url)
      await client.listenToEvents()
    }, 120_000)

    afterAll(async () => {
      await client?.close()
      await herald?.stop()
      await storage?.drop()
      await vhost?.drop()
    })

    it('answers GRANTED and SUCCESS exactly once per request of both tenants', async () => {
      // Published while Herald is stopped, so the queue hands them out together when it starts: one batch.
      await herald!.stop()
      herald = undefined
      const requests = Array.from({ length: 2 * PER_TENANT }, (_, i) => ({ tenant: i % 2 === 0 ? COMMITS : FAILS_ONCE, requestId: randomUUID() }))
      for (const { tenant, requestId } of requests) {
        await client.publishRequest({ tenant, requestId, owner: 'me', body: { payload: { id: requestId }, metadata: { action: 'CREATED' } } })
      }
      herald = await startTestHerald({ storage, amqpUrl: vhost.url })
      const answered = () => requests.every(({ requestId }) => client.eventsFor(requestId).some((e) => e.body.state === 'SUCCESS'))
      await waitFor(answered, 'a SUCCESS for every request', { timeoutMs: 30_000, wakeOn: client.onMessage })
      // Time for a second answer to arrive, if there were one.
      await new Promise((r) => setTimeout(r, 1000))

      const { rows } = await sql<{ attempts: string }>`select last_value as attempts from fail_once_attempts`.execute(herald.ctx.db)
      expect(Number(rows[0].attempts), 'the failing tenant was refused once, then registered').toBeGreaterThan(1)
      for (const { tenant, requestId } of requests) {
        expect(client.eventsFor(requestId).map((e) => e.body.state), `${tenant} ${requestId}`).toEqual(['GRANTED', 'SUCCESS'])
      }
      const { rows: history } = await sql<{ tenant: string; n: string }>`select tenant, count(*) as n from request_history group by tenant order by tenant`.execute(herald.ctx.db)
      expect(history.map((h) => [h.tenant, Number(h.n)])).toEqual([
        [COMMITS, PER_TENANT],
        [FAILS_ONCE, PER_TENANT],
      ])
    }, 90_000)
  })
}
