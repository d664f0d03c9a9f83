import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPglite, openPostgres, type Database } from '../src/db/client.ts'
import { migrateOrThrow } from '../src/db/migrate.ts'
import { StartRefusal } from '../src/secrets/start-refusal.ts'
import type { PluginParameter } from '../src/senders/sender.ts'
import { param, startHttpFixture, type HttpFixture } from './http-helpers.ts'
import { configFile, pluginConf, startTestHerald } from './support/herald.ts'
import { BACKENDS, createTestStorage, createVhost, type TestStorage } from './support/services.ts'

const run = promisify(execFile)
const BIN = path.resolve(import.meta.dirname, '../bin/herald.js')
const MASK = '********'
const whsec = (key: string) => `whsec_${Buffer.from(key).toString('base64')}`

// Every secret below must appear nowhere in the database files or in a dump.
const WEBHOOK_KEY = whsec('at-rest-webhook-key-1')
const IMPORTED_KEY = whsec('at-rest-imported-key-2')
const URL_PASSWORD = 'url-pa55w0rd-at-rest'
const SMTP_PASSWORD = 'smtp-s3cret-at-rest'
const LEGACY_KEY = whsec('written-clear-by-an-older-herald')

/** Everything the database holds, as text: `pg_dump` of the test database, or every file of the PGlite data directory. */
async function databaseContents(storage: TestStorage, db: Database['db']): Promise<string> {
  if (storage.databaseUrl) return (await run('pg_dump', [storage.databaseUrl], { maxBuffer: 64 * 1024 * 1024 })).stdout
  await sql`checkpoint`.execute(db)
  const parts: string[] = []
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(file)
      else if (entry.isFile()) parts.push(fs.readFileSync(file).toString('latin1'))
    }
  }
  walk(storage.dataDir)
  return parts.join('\n')
}

const storedRow = async (db: Database['db'], businessId: string) =>
  (await sql<{ parameters: PluginParameter[] }>`select parameters from plugin_configuration where business_id = ${businessId}`.execute(db)).rows[0]?.parameters

const webhook = (businessId: string, url: string, secrets: string) => ({
  businessId,
  pluginId: 'WebhookSender',
  label: businessId,
  parameters: [param('url', url), param('secrets', secrets), param('recipientLabel', businessId)],
})

const email = (businessId: string, password: string) => ({
  businessId,
  pluginId: 'EmailSender',
  label: businessId,
  parameters: Object.entries({ host: 'smtp.example.org', port: '587', from: 'herald@example.org', to: 'ops@example.org', user: 'herald', password }).map(([k, v]) => param(k, v)),
})

for (const backend of BACKENDS) {
  describe(`${backend}: secret parameters at rest`, () => {
    let f: HttpFixture
    const clearParams = async (tenant: string, businessId: string) => {
      f.herald.ctx.configCache.invalidate(tenant)
      return (await f.herald.ctx.configCache.get(tenant)).recipientsByBusinessId.get(businessId)?.params
    }

    beforeAll(async () => {
      f = await startHttpFixture(backend)
    }, 180_000)
    afterAll(async () => f?.close())

    it('seals them in the database (a dump shows none) and senders still read them in clear', async () => {
      expect((await f.call('POST', '/api/v1/recipients', { body: webhook('hook-rest', `https://hook:${URL_PASSWORD}@partner.example/hook`, WEBHOOK_KEY) })).statusCode).toBe(201)
      expect((await f.call('POST', '/api/v1/recipients', { body: email('mail-rest', SMTP_PASSWORD) })).statusCode).toBe(201)
      const imported = await f.call('POST', '/api/v1/configuration', {
        body: configFile([pluginConf('WebhookSender', 'hook-import', { url: 'https://partner.example/in', secrets: IMPORTED_KEY, recipientLabel: 'in' })], false),
      })
      expect(imported.statusCode).toBe(201)

      const contents = await databaseContents(f.storage, f.herald.ctx.db)
      expect(contents).toContain('partner.example')
      for (const secret of [WEBHOOK_KEY, IMPORTED_KEY, URL_PASSWORD, SMTP_PASSWORD]) expect([secret, contents.includes(secret)]).toEqual([secret, false])
      expect(JSON.stringify(await storedRow(f.herald.ctx.db, 'hook-rest'))).toMatch(/"https:\/\/hook:enc:v1:[0-9a-f]{8}:[\w-]+@partner\.example\/hook"/)

      expect(await clearParams('project1', 'hook-rest')).toMatchObject({ url: `https://hook:${URL_PASSWORD}@partner.example/hook`, secrets: WEBHOOK_KEY })
      expect(await clearParams('project1', 'mail-rest')).toMatchObject({ password: SMTP_PASSWORD, host: 'smtp.example.org' })
      expect(await clearParams('project1', 'hook-import')).toMatchObject({ secrets: IMPORTED_KEY })
      // Shown masked as before, whether read from the sealed row or not.
      const shown = (await f.call('GET', '/api/v1/recipients/hook-rest')).json().parameters
      expect(Object.fromEntries(shown.map((p: PluginParameter) => [p.name, p.value]))).toMatchObject({ url: `https://hook:${MASK}@partner.example/hook`, secrets: MASK })
    })

    it('re-importing the same configuration leaves the sealed row untouched', async () => {
      const file = configFile([pluginConf('WebhookSender', 'hook-import', { url: 'https://partner.example/in', secrets: IMPORTED_KEY, recipientLabel: 'in' })], false)
      const before = await storedRow(f.herald.ctx.db, 'hook-import')
      expect((await f.call('POST', '/api/v1/configuration', { body: file })).statusCode).toBe(201)
      expect(await storedRow(f.herald.ctx.db, 'hook-import')).toEqual(before)
    })

    it('refuses the mask with a changed destination (REST update and import) and keeps the secret otherwise', async () => {
      const shown = (await f.call('GET', '/api/v1/recipients/hook-rest')).json()
      const edit = (changes: Record<string, unknown>) => ({
        pluginId: shown.pluginId,
        label: shown.label,
        parameters: shown.parameters.map((p: PluginParameter) => (p.name in changes ? { ...p, value: changes[p.name] } : p)),
      })
      const put = (body: unknown) => f.call('PUT', '/api/v1/recipients/hook-rest', { body })

      const elsewhere = await put(edit({ url: `https://hook:${MASK}@attacker.example/hook` }))
      expect([elsewhere.statusCode, elsewhere.json().detail]).toEqual([400, expect.stringMatching(/parameter url.*send the (secret|password) again/)])
      const samePasswordOtherUrl = await put(edit({ url: 'https://attacker.example/hook' }))
      expect([samePasswordOtherUrl.statusCode, samePasswordOtherUrl.json().detail]).toEqual([400, expect.stringMatching(/parameter url changed while secrets was sent as \*{8}: send the secret again/)])
      expect(await clearParams('project1', 'hook-rest')).toMatchObject({ url: `https://hook:${URL_PASSWORD}@partner.example/hook`, secrets: WEBHOOK_KEY })

      const renamed = await put({ ...edit({}), label: 'renamed' })
      expect(renamed.statusCode).toBe(200)
      expect(await clearParams('project1', 'hook-rest')).toMatchObject({ url: `https://hook:${URL_PASSWORD}@partner.example/hook`, secrets: WEBHOOK_KEY })
      const moved = await put(edit({ url: 'https://partner-2.example/hook', secrets: whsec('a-new-key-for-a-new-host') }))
      expect(moved.statusCode).toBe(200)
      expect(await clearParams('project1', 'hook-rest')).toMatchObject({ url: 'https://partner-2.example/hook', secrets: whsec('a-new-key-for-a-new-host') })

      const mail = (await f.call('GET', '/api/v1/recipients/mail-rest')).json()
      const putMail = (changes: Record<string, string>) =>
        f.call('PUT', '/api/v1/recipients/mail-rest', {
          body: { pluginId: mail.pluginId, label: mail.label, parameters: mail.parameters.map((p: PluginParameter) => (p.name in changes ? { ...p, value: changes[p.name] } : p)) },
        })
      for (const changes of [{ host: 'smtp.attacker.example' }, { port: '2525' }] as Record<string, string>[]) {
        const refused = await putMail(changes)
        expect([refused.statusCode, refused.json().detail]).toEqual([400, expect.stringMatching(new RegExp(`parameter ${Object.keys(changes)[0]} changed while password was sent`))])
      }
      expect((await putMail({ to: 'other@example.org' })).statusCode).toBe(200)
      expect(await clearParams('project1', 'mail-rest')).toMatchObject({ password: SMTP_PASSWORD, to: 'other@example.org' })

      // Export (masked) → import: kept when the destination is unchanged, refused when it moved.
      const exported = (await f.call('GET', '/api/v1/configuration')).json()
      const entry = exported.modules[0].configuration.find((e: any) => e.value.businessId === 'hook-import')
      expect(entry.value.parameters.find((p: PluginParameter) => p.name === 'secrets').value).toBe(MASK)
      const reimport = (url: string) =>
        f.call('POST', '/api/v1/configuration', {
          body: configFile([{ ...entry, value: { ...entry.value, parameters: entry.value.parameters.map((p: PluginParameter) => (p.name === 'url' ? { ...p, value: url } : p)) } }], false),
        })
      const movedImport = await reimport('https://attacker.example/in')
      expect([movedImport.statusCode, movedImport.json().detail]).toEqual([400, expect.stringMatching(/parameter url changed while secrets was sent as \*{8}/)])
      expect((await reimport('https://partner.example/in')).statusCode).toBe(201)
      expect(await clearParams('project1', 'hook-import')).toMatchObject({ url: 'https://partner.example/in', secrets: IMPORTED_KEY })
    })
  })

  describe(`${backend}: secrets stored by an older Herald, and the key`, () => {
    let storage: TestStorage
    let vhost: Awaited<ReturnType<typeof createVhost>>
    const withDb = async <T>(fn: (db: Database['db']) => Promise<T>): Promise<T> => {
      const database = storage.databaseUrl ? await openPostgres(storage.databaseUrl, 2) : await openPglite(storage.dataDir)
      try {
        await migrateOrThrow(database.db)
        return await fn(database.db)
      } finally {
        await database.close()
      }
    }

    beforeAll(async () => {
      storage = await createTestStorage(backend)
      vhost = await createVhost()
      // As Herald wrote it before secrets were sealed: parameters in clear.
      await withDb(async (db) => {
        const parameters = [param('url', 'https://partner.example/legacy'), param('secrets', LEGACY_KEY), param('recipientLabel', 'legacy')]
        await sql`insert into plugin_configuration (tenant, business_id, plugin_id, kind, label, version, priority_order, active, parameters)
          values ('t1', 'legacy', 'WebhookSender', 'RECIPIENT', 'legacy', '1.0.0', 0, true, ${JSON.stringify(parameters)}::jsonb)`.execute(db)
        await sql`insert into plugin_configuration (tenant, business_id, plugin_id, kind, label, version, priority_order, active, parameters)
          values ('t1', 'other', 'WebhookSender', 'RECIPIENT', 'other', '1.0.0', 0, true, ${JSON.stringify([param('url', 'https://partner.example/other'), param('secrets', whsec('other-key'))])}::jsonb)`.execute(db)
      })
    }, 180_000)
    afterAll(async () => {
      await vhost?.drop()
      await storage?.drop()
    })

    it('seals rows written in clear when it starts, and reads them in clear', async () => {
      const herald = await startTestHerald({ storage, amqpUrl: vhost.url })
      try {
        const stored = JSON.stringify(await storedRow(herald.ctx.db, 'legacy'))
        expect(stored).not.toContain(LEGACY_KEY)
        expect(stored).toMatch(/"enc:v1:[0-9a-f]{8}:/)
        const recipient = (await herald.ctx.configCache.get('t1')).recipientsByBusinessId.get('legacy')!
        expect([recipient.params.secrets, recipient.plugin?.pluginId]).toEqual([LEGACY_KEY, 'WebhookSender'])
      } finally {
        await herald.stop()
      }
    })

    it('refuses to start with another key, in one line naming the configurations', async () => {
      const env = { HERALD_SECRET_KEY: randomBytes(32).toString('base64') }
      await expect(startTestHerald({ storage, amqpUrl: vhost.url, env })).rejects.toThrow(StartRefusal)
      await expect(startTestHerald({ storage, amqpUrl: vhost.url, env })).rejects.toThrow(/configuration\(s\) \(t1\/legacy, t1\/other\) were sealed with key [0-9a-f]{8}, this instance has key [0-9a-f]{8}/)
      const started = await run(process.execPath, [BIN, 'start', '--roles', 'notifier'], {
        env: { ...process.env, ...env, HERALD_AMQP_URL: vhost.url, HERALD_DATABASE_URL: storage.databaseUrl ?? '', HERALD_DATA_DIR: storage.dataDir, HERALD_LOG_LEVEL: 'warn' },
        timeout: 60_000,
      }).then(() => ({ code: 0, stdout: '', stderr: '' }), (err) => err as { code: number; stdout: string; stderr: string })
      const lines = started.stdout.trim().split('\n').filter(Boolean)
      expect([started.code, lines.length, started.stderr]).toEqual([1, 1, ''])
      expect(JSON.parse(lines[0])).toMatchObject({ level: 60, msg: expect.stringMatching(/sealed with key .*: start with the HERALD_SECRET_KEY/) })
    }, 180_000)

    it('starts when one sealed value does not open, and that recipient waits with an error naming it', async () => {
      // A sealed value moved from one recipient to another does not authenticate there.
      await withDb(async (db) => {
        const other = (await storedRow(db, 'other'))!
        const legacy = (await storedRow(db, 'legacy'))!
        const moved = legacy.map((p) => (p.name === 'secrets' ? other.find((o) => o.name === 'secrets')! : p))
        await sql`update plugin_configuration set parameters = ${JSON.stringify(moved)}::jsonb where business_id = 'legacy'`.execute(db)
      })
      const herald = await startTestHerald({ storage, amqpUrl: vhost.url })
      try {
        const config = await herald.ctx.configCache.get('t1')
        const legacy = config.recipientsByBusinessId.get('legacy')!
        expect([legacy.plugin, legacy.secretsError]).toEqual([undefined, expect.stringMatching(/secret parameter secrets of legacy \(tenant t1\) does not open/)])
        expect(config.recipientsByBusinessId.get('other')!.params.secrets).toBe(whsec('other-key'))
      } finally {
        await herald.stop()
      }
    })

    it('changes the key: HERALD_SECRET_KEY_PREVIOUS opens the old secrets, which are sealed again with the new key', async () => {
      await withDb((db) => sql`delete from plugin_configuration where business_id = 'legacy'`.execute(db))
      const previous = fs.readFileSync(path.join(storage.dataDir, 'secret-key'), 'utf8').trim()
      const env = { HERALD_SECRET_KEY: randomBytes(32).toString('base64') }
      const changing = await startTestHerald({ storage, amqpUrl: vhost.url, env: { ...env, HERALD_SECRET_KEY_PREVIOUS: previous } })
      await changing.stop()
      const changed = await startTestHerald({ storage, amqpUrl: vhost.url, env })
      try {
        expect(JSON.stringify(await storedRow(changed.ctx.db, 'other'))).toContain(`"enc:v1:${changed.ctx.secrets.keyId}:`)
        expect((await changed.ctx.configCache.get('t1')).recipientsByBusinessId.get('other')!.params.secrets).toBe(whsec('other-key'))
      } finally {
        await changed.stop()
      }
    })
  })
}
