import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { openPglite, openPostgres, type Backend, type Database } from '../../src/db/client.ts'
import { migrateOrThrow } from '../../src/db/migrate.ts'
import { loadSecretBox, type SecretBox } from '../../src/secrets/secret-box.ts'

const run = promisify(execFile)

export const PG_ADMIN_URL = process.env.HERALD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const AMQP_BASE_URL = process.env.HERALD_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'

/**
 * HERALD_ALLOW_PRIVATE_NETWORKS of every Herald the tests start: their webhook and SMTP servers listen on
 * loopback, which a recipient reaches only with allowPrivateNetwork=true inside these ranges.
 */
export const TEST_PRIVATE_NETWORKS = '127.0.0.0/8,::1/128'

/** Storage backends every storage-touching test runs on; `BACKENDS=pglite npm test` narrows it. */
export const BACKENDS: Backend[] = (process.env.BACKENDS?.split(',') as Backend[] | undefined) ?? ['postgres', 'pglite']

export const uniqueName = (prefix: string) => `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`

/**
 * A fresh RabbitMQ virtual host: Herald's queues have fixed REGARDS names, so test files that run at the
 * same time each get their own vhost.
 */
export async function createVhost(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = uniqueName('herald-test')
  await run('rabbitmqctl', ['-q', 'add_vhost', name])
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', name, 'guest', '.*', '.*', '.*'])
  return {
    name,
    url: `${AMQP_BASE_URL}/${encodeURIComponent(name)}`,
    drop: async () => {
      await run('rabbitmqctl', ['-q', 'delete_vhost', name]).catch(() => {})
    },
  }
}

/** A storage location for one Herald: a new PostgreSQL database, or a new PGlite data directory. */
export interface TestStorage {
  backend: Backend
  /** HERALD_DATABASE_URL for PostgreSQL; undefined for PGlite. */
  databaseUrl: string | undefined
  dataDir: string
  drop(): Promise<void>
}

export async function createTestStorage(backend: Backend): Promise<TestStorage> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-test-'))
  if (backend === 'pglite') {
    return { backend, databaseUrl: undefined, dataDir, drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }) }
  }
  const name = uniqueName('herald_test')
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL })
  await admin.connect()
  await admin.query(`create database ${name}`)
  await admin.end()
  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/${name}`
  return {
    backend,
    databaseUrl: url.toString(),
    dataDir,
    drop: async () => {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL })
      await client.connect()
      await client.query(`drop database if exists ${name} with (force)`)
      await client.end()
      fs.rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** The key a Herald started on this storage seals secrets with (its data directory's, as HERALD_SECRET_KEY is unset). */
export const storageSecrets = (storage: Pick<TestStorage, 'dataDir'>): SecretBox => loadSecretBox({ secretKey: undefined, dataDir: storage.dataDir })

/** A migrated database for tests of Herald's code without a Herald: a new PostgreSQL database, or PGlite in memory. */
export interface TestDatabase extends Database {
  /** Closes it and drops what it created. */
  drop(): Promise<void>
}

export async function openTestDatabase(backend: Backend): Promise<TestDatabase> {
  const storage = backend === 'postgres' ? await createTestStorage(backend) : undefined
  const database = storage ? await openPostgres(storage.databaseUrl!) : await openPglite(undefined)
  await migrateOrThrow(database.db)
  return {
    ...database,
    async drop() {
      await database.close()
      await storage?.drop()
    },
  }
}

/** A TCP port nobody listens on right now, on loopback: for a spawned Herald's HTTP API, a broker node, a closed port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}
