import { generateKeyPairSync } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { sql } from 'kysely'
import { Connection } from 'rabbitmq-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.ts'
import { openPglite, openPostgres, type Database } from '../src/db/client.ts'
import { migrateOrThrow } from '../src/db/migrate.ts'
import { savePlugin } from '../src/notifier/plugin-configurations.ts'
import { loadTokenKeys, verifyToken } from '../src/http/auth.ts'
import { insertDeadLetter } from '../src/dead-letters/store.ts'
import { param } from './http-helpers.ts'
import { cliEnv, runHerald } from './support/cli.ts'
import { BACKENDS, createTestStorage, createVhost, storageSecrets, type TestStorage } from './support/services.ts'

const SHARED_SECRET = 'a-shared-hs256-secret-of-32-bytes-or-more'

for (const backend of BACKENDS) {
  describe(`${backend}: herald token, requests, recipients and dlq commands`, () => {
    let storage: TestStorage
    let vhost: Awaited<ReturnType<typeof createVhost>>
    let env: NodeJS.ProcessEnv
    const herald = (...args: string[]) => runHerald(args, { env, timeoutMs: 60_000 })
    /** The CLI and this test never hold the PGlite directory at the same time: open, act, close. */
    const withDb = async <T>(fn: (database: Database) => Promise<T>): Promise<T> => {
      const database = storage.databaseUrl ? await openPostgres(storage.databaseUrl, 2) : await openPglite(storage.dataDir)
      try {
        await migrateOrThrow(database.db)
        return await fn(database)
      } finally {
        await database.close()
      }
    }

    beforeAll(async () => {
      storage = await createTestStorage(backend)
      vhost = await createVhost()
      env = cliEnv(storage, vhost.url)
      await withDb(async ({ db }) => {
        for (const id of ['cli-a', 'cli-b']) {
          await savePlugin(db, storageSecrets(storage), 't1', 'RECIPIENT', id, { pluginId: 'RabbitMQSender', label: id, parameters: [param('exchange', `ext.${id}`)] }, 'create')
        }
        await savePlugin(db, storageSecrets(storage), 't1', 'RECIPIENT', 'cli-hook', { pluginId: 'WebhookSender', label: 'hook', parameters: [param('url', 'https://partner.example/hook'), param('secrets', 'cli-secret')] }, 'create')
        for (const requestId of ['cli-req-1', 'cli-req-2']) {
          const { rows } = await sql<{ id: number }>`insert into notification_request (tenant, request_id, request_owner, request_date, not_before, mode, state, payload, metadata)
            values ('t1', ${requestId}, 'ops', now(), now(), 'RULES', 'ERROR', '{}', '{}') returning id`.execute(db)
          await sql`insert into delivery (tenant, request_pk, recipient_id, state, request_date, attempts, last_error)
            select 't1', ${rows[0].id}, id, 'ERROR', now(), 5, 'refused' from plugin_configuration where business_id = 'cli-a'`.execute(db)
        }
        for (const tenant of ['t1', null]) {
          await insertDeadLetter(db, { tenant, dlq: 'cli.q.DLQ', queue: 'cli.q', exchange: '', routingKey: 'cli.q', reason: `failed for ${tenant ?? 'nobody'}`, headers: tenant ? { 'regards.tenant': tenant, 'regards.request.id': 'dl-1' } : {}, properties: { contentType: 'application/json' }, body: Buffer.from('{"x":1}'), deadLetteredAt: null })
        }
      })
    })
    afterAll(async () => {
      await vhost?.drop()
      await storage?.drop()
    })

    const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
    const withEnv = async <T>(extra: Record<string, string>, fn: () => Promise<T>): Promise<T> => {
      const saved = env
      env = { ...env, ...extra }
      try {
        return await fn()
      } finally {
        env = saved
      }
    }

    it('prints a token the API accepts, signed with the data-directory secret or HERALD_JWT_SECRET', async () => {
      const { stdout } = await herald('token', '--tenant', 't1', '--role', 'EXPLOIT', '--expires-in', '1h')
      const keys = loadTokenKeys(loadConfig({ HERALD_DATA_DIR: storage.dataDir }))
      expect(verifyToken(keys, stdout.trim())).toEqual({ tenant: 't1', role: 'EXPLOIT', subject: 'herald-cli' })
      expect(payloadOf(stdout).exp - payloadOf(stdout).iat).toBe(3600)
      const shared = await withEnv({ HERALD_JWT_SECRET: SHARED_SECRET }, async () => (await herald('token', '--tenant', 't1', '--role', 'ADMIN')).stdout.trim())
      expect(verifyToken(loadTokenKeys(loadConfig({ HERALD_DATA_DIR: storage.dataDir, HERALD_JWT_SECRET: SHARED_SECRET })), shared)).toMatchObject({ role: 'ADMIN' })
      const other = await herald('token', '--tenant', 't1', '--role', 'VISITOR')
      expect(other.stderr).toMatch(/no access/)
    })

    it('mints tokens valid 12 h by default and never longer than HERALD_TOKEN_MAX_LIFETIME; every token expires', async () => {
      const byDefault = (await herald('token', '--tenant', 't1', '--role', 'EXPLOIT')).stdout
      expect(payloadOf(byDefault).exp - payloadOf(byDefault).iat).toBe(12 * 3600)
      const never = await herald('token', '--tenant', 't1', '--role', 'EXPLOIT', '--expires-in', '0')
      expect([never.code, never.stdout, never.stderr]).toEqual([2, '', expect.stringMatching(/every token expires/)])
      const tooLong = await herald('token', '--tenant', 't1', '--role', 'EXPLOIT', '--expires-in', '8d')
      expect([tooLong.code, tooLong.stdout, tooLong.stderr]).toEqual([2, '', expect.stringMatching(/longer than HERALD_TOKEN_MAX_LIFETIME \(604800 s\)/)])
    })

    it('writes iss and aud when they are configured, and warns when the API would refuse HS256', async () => {
      const { stdout } = await withEnv({ HERALD_JWT_ISSUER: 'https://auth.example', HERALD_JWT_AUDIENCE: 'herald' }, () => herald('token', '--tenant', 't1', '--role', 'ADMIN'))
      expect(payloadOf(stdout)).toMatchObject({ iss: 'https://auth.example', aud: 'herald' })
      const keys = loadTokenKeys(loadConfig({ HERALD_DATA_DIR: storage.dataDir, HERALD_JWT_ISSUER: 'https://auth.example', HERALD_JWT_AUDIENCE: 'herald' }))
      expect(verifyToken(keys, stdout.trim())).toMatchObject({ tenant: 't1' })
      const jwks = path.join(storage.dataDir, 'jwks.json')
      fs.writeFileSync(jwks, JSON.stringify({ keys: [generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' })] }))
      const refused = await withEnv({ HERALD_JWT_JWKS_FILE: jwks }, () => herald('token', '--tenant', 't1', '--role', 'ADMIN'))
      expect(refused.stderr).toMatch(/HERALD_JWT_ALLOW_HS256/)
    })

    it('lists, parks and unparks recipients', async () => {
      const listed = await herald('recipients', 'list', '--tenant', 't1')
      expect(listed.stdout).toMatch(/^BUSINESS ID\s+PLUGIN\s+ACTIVE\s+PARKED\s+BACKLOG/)
      expect(listed.stdout).toMatch(/cli-a\s+RabbitMQSender\s+yes\s+0\s+0\s+2\s+refused/)
      const parked = await herald('recipients', 'park', '--tenant', 't1', 'cli-b')
      expect(parked.stdout).toMatch(/recipient cli-b parked/)
      const json = (await herald('recipients', 'list', '--tenant', 't1', '--json')).stdout.trim().split('\n').map((l) => JSON.parse(l))
      expect(json.find((r) => r.businessId === 'cli-b')).toMatchObject({ active: true, state: { backlog: 0, parked: true, parkedReason: expect.stringMatching(/operator/) } })
      expect(JSON.stringify(json)).not.toContain('cli-secret')
      await herald('recipients', 'unpark', '--tenant', 't1', 'cli-b')
      expect(await withDb(async ({ db }) => (await sql<{ parked: boolean }>`select s.parked from recipient_state s
        join plugin_configuration c on c.id = s.recipient_id where c.business_id = 'cli-b'`.execute(db)).rows[0].parked)).toBe(false)
      const unknown = await herald('recipients', 'park', '--tenant', 't1', 'ghost')
      expect([unknown.code, unknown.stderr]).toEqual([3, expect.stringMatching(/no recipient ghost \(HERALD_ERR_NOT_FOUND\)/)])
    })

    it('lists, shows and retries requests, with progress lines when not on a terminal', async () => {
      const listed = await herald('requests', 'list', '--tenant', 't1', '--state', 'ERROR')
      expect(listed.stdout.split('\n').filter((l) => l.startsWith('cli-req-'))).toHaveLength(2)
      const json = (await herald('requests', 'list', '--tenant', 't1', '--json', '--limit', '1')).stdout.trim().split('\n')
      expect(json.map((l) => JSON.parse(l).requestId)).toEqual(['cli-req-2'])
      const shown = JSON.parse((await herald('requests', 'show', '--tenant', 't1', 'cli-req-1')).stdout)
      expect(shown.deliveries).toEqual([expect.objectContaining({ recipient: 'cli-a', state: 'ERROR', attempts: 5, lastError: 'refused' })])
      expect((await herald('requests', 'show', '--tenant', 'other', 'cli-req-1')).code).toBe(3)
      expect((await herald('requests', 'retry', '--tenant', 't1')).code).toBe(2)
      const retried = await herald('requests', 'retry', '--tenant', 't1', '--all')
      expect(retried.stderr).toMatch(/^retried 2 requests: 2 deliveries back to PENDING, 0 requests re-matched$/m)
      expect(retried.stderr).not.toContain('\r')
      const states = await withDb(async ({ db }) => (await sql<{ state: string; attempts: number }>`select state, attempts from delivery where tenant = 't1'`.execute(db)).rows)
      expect(states).toEqual([{ state: 'PENDING', attempts: 0 }, { state: 'PENDING', attempts: 0 }])
    })

    it('lists the tenant\'s dead letters and replays them into their queue', async () => {
      expect((await herald('dlq', 'list')).code).toBe(2)
      const listed = await herald('dlq', 'list', '--tenant', 't1')
      expect(listed.stdout).toMatch(/\scli\.q\s+dl-1\s/)
      expect(listed.stdout).not.toMatch(/failed for nobody/)
      expect((await herald('dlq', 'list', '--tenant', 't1', '--json')).stdout.trim().split('\n')).toHaveLength(1)
      const missingQueue = await herald('dlq', 'replay', '--tenant', 't1', '--all')
      expect([missingQueue.code, missingQueue.stderr]).toEqual([2, expect.stringMatching(/queue cli\.q does not exist.*nothing was published/)])
      const rabbit = new Connection(vhost.url)
      try {
        await rabbit.queueDeclare({ queue: 'cli.q', durable: true })
        const replayed = await herald('dlq', 'replay', '--tenant', 't1', '--all')
        expect(replayed.stderr).toMatch(/replayed 1 messages/)
        const msg = await rabbit.basicGet({ queue: 'cli.q', noAck: true })
        expect(msg?.headers).toMatchObject({ 'regards.tenant': 't1', 'regards.request.id': 'dl-1' })
        expect(msg?.body).toEqual({ x: 1 })
        expect((await herald('dlq', 'list', '--tenant', 't1', '--json')).stdout).toBe('')
        // The message without a tenant header is no tenant's: it stays, out of reach.
        expect(await withDb(async ({ db }) => (await sql<{ n: number }>`select count(*)::int as n from dead_letter where tenant is null`.execute(db)).rows[0].n)).toBe(1)
        const missing = await herald('dlq', 'replay', '--tenant', 't1', '999999')
        expect([missing.code, missing.stderr]).toEqual([3, expect.stringMatching(/no dead letter 999999/)])
      } finally {
        await rabbit.close()
      }
    })
  })
}
