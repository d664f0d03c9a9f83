import { InvalidArgumentError } from 'commander'
import { loadConfig, type Config } from '../config.ts'
import type { Db } from '../db/client.ts'
import { migrateOrThrow } from '../db/migrate.ts'
import { openDatabase } from '../db/open-database.ts'
import { ReplayTargetError } from '../dead-letters/replay.ts'
import { HeraldError } from '../errors.ts'
import { reportRefusal } from './run-operation.ts'

/** The configuration's database, for the commands not yet running through src/ops (runOperation). */
export async function withAdminDatabase<T>(fn: (db: Db, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig()
  const database = await openDatabase(config)
  try {
    await migrateOrThrow(database.db)
    return await fn(database.db, config)
  } finally {
    await database.close()
  }
}

export async function runAdmin(action: () => Promise<void>): Promise<void> {
  try {
    await action()
  } catch (err) {
    if (err instanceof HeraldError) reportRefusal(err)
    else if (err instanceof InvalidArgumentError) {
      process.stderr.write(`error: ${err.message}\n`)
      process.exitCode = 2
    } else if (err instanceof ReplayTargetError) {
      process.stderr.write(`error: ${err.message}; nothing was published\n`)
      process.exitCode = 1
    } else {
      throw err
    }
  }
}
