import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Command } from 'commander'
import { loadConfig } from '../config.ts'
import type { Db } from '../db/client.ts'
import { migrateOrThrow } from '../db/migrate.ts'
import { openDatabase } from '../db/open-database.ts'
import { createAips } from './create-aips.ts'
import { forceDeletions } from './force-deletions.ts'
import { catalogCounters } from './queries/counters.ts'
import { getProduct } from './queries/get-product.ts'
import { listProducts } from './queries/list-products.ts'
import { listRequests } from './queries/list-requests.ts'
import { requestDissemination } from './request-dissemination.ts'
import { retryRequests } from './retry-requests.ts'
import { setCatalogSetting } from './settings.ts'
import { shovelCli } from './shovel.ts'
import type { DisseminationStatus, RequestType } from './types.ts'

async function withDatabase<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const database = await openDatabase(loadConfig())
  try {
    await migrateOrThrow(database.db)
    return await fn(database.db)
  } finally {
    await database.close()
  }
}

const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}
const collect = (value: string, previous: string[] = []) => [...previous, value]
const int = (value: string) => Number.parseInt(value, 10)

/**
 * `herald catalog …`: the catalog's operator commands (products, requests, forced deletions, retries, manual
 * dissemination, AIP records, settings, counters, shovels). The CLI adds it with
 * `program.addCommand(catalogCommand())`.
 *
 * @example
 * herald catalog products --tenant project1 --status PENDING --label mission-b
 * herald catalog force-deletion --tenant project1 --urn URN:FEATURE:DATA:project1:…:V1
 */
export function catalogCommand(): Command {
  const catalog = new Command('catalog').description('catalog products, dissemination tracking and acknowledgements')
  catalog
    .command('products')
    .description('list products with their dissemination infos (JSON page; pass nextCursor back with --cursor)')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--status <status>', 'NONE, PENDING or DONE (repeatable)', collect)
    .option('--label <label>', 'recipient label (with --status: that recipient’s status)')
    .option('--urn <urn>', 'product URN (repeatable)', collect)
    .option('--kind <kind>', 'FEATURE or AIP')
    .option('--limit <n>', 'page size', int)
    .option('--cursor <cursor>', 'nextCursor of the previous page')
    .action(async (o) => print(await withDatabase((db) => listProducts(db, o.tenant, { status: o.status as DisseminationStatus[] | undefined, label: o.label, urn: o.urn, kind: o.kind, limit: o.limit, cursor: o.cursor }))))
  catalog
    .command('product')
    .description('one product by URN, with its content and dissemination infos')
    .requiredOption('--tenant <tenant>', 'tenant')
    .argument('<urn>', 'product URN')
    .action(async (urn: string, o) => {
      const product = await withDatabase((db) => getProduct(db, o.tenant, urn))
      if (!product) {
        console.error(`no product ${urn} in tenant ${o.tenant}`)
        process.exitCode = 1
      } else print(product)
    })
  catalog
    .command('requests')
    .description('list catalog requests by state (GRANTED, ERROR, or SUCCESS from the history)')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--state <state>', 'GRANTED, ERROR or SUCCESS')
    .option('--type <type>', 'CREATION, PATCH, DELETION, NOTIFICATION or AIP_DISSEMINATION')
    .option('--step <step>', 'e.g. WAITING_BLOCKING_DISSEMINATION, REMOTE_NOTIFICATION_ERROR')
    .option('--limit <n>', 'page size', int)
    .option('--cursor <cursor>', 'nextCursor of the previous page')
    .action(async (o) => print(await withDatabase((db) => listRequests(db, o.tenant, { state: o.state, type: o.type as RequestType | undefined, step: o.step, limit: o.limit, cursor: o.cursor }))))
  catalog
    .command('force-deletion')
    .description('delete products whose deletion waits for a blocking dissemination, ignoring it')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--urn <urn>', 'product URN (repeatable)', collect)
    .option('--request-id <id>', 'deletion request id (repeatable)', collect)
    .action(async (o) => print(await withDatabase((db) => forceDeletions(db, o.tenant, { urns: o.urn, requestIds: o.requestId }))))
  catalog
    .command('retry')
    .description('retry requests in error (notification errors are sent to the notifier again)')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--request-id <id>', 'request id (repeatable)', collect)
    .option('--type <type>', 'request type')
    .action(async (o) => print(await withDatabase((db) => retryRequests(db, o.tenant, { requestIds: o.requestId, type: o.type }))))
  catalog
    .command('disseminate')
    .description('ask the notifier to disseminate products (rules, or the given recipients)')
    .requiredOption('--tenant <tenant>', 'tenant')
    .requiredOption('--urn <urn>', 'product URN (repeatable)', collect)
    .option('--recipient <businessId>', 'notifier recipient business id (repeatable)', collect)
    .option('--owner <owner>', 'request owner', 'cli')
    .option('--priority <priority>', 'HIGH, NORMAL or LOW', 'HIGH')
    .action(async (o) => print(await withDatabase((db) => requestDissemination(db, o.tenant, { urns: o.urn, recipients: o.recipient, owner: o.owner, priority: o.priority }))))
  catalog
    .command('create-aips')
    .description('record AIPs from a JSON file: [{providerId, urn?, originUrn?, sessionOwner?, session?, aip?}]')
    .requiredOption('--tenant <tenant>', 'tenant')
    .argument('<file>', 'JSON file ("-" for stdin)')
    .action(async (file: string, o) => {
      const inputs = JSON.parse(fs.readFileSync(file === '-' ? 0 : file, 'utf8'))
      const report = await withDatabase((db) => createAips(db, o.tenant, Array.isArray(inputs) ? inputs : [inputs]))
      print(report)
      if (report.results.some((r) => r.status === 'ERROR')) process.exitCode = 1
    })
  catalog
    .command('setting')
    .description('set a catalog tenant setting, e.g. active_notifications false')
    .requiredOption('--tenant <tenant>', 'tenant')
    .argument('<name>', 'setting name')
    .argument('<value>', 'JSON value')
    .action(async (name: string, value: string, o) => print(await withDatabase((db) => setCatalogSetting(db, o.tenant, name, JSON.parse(value)))))
  catalog
    .command('counters')
    .description('acknowledgement anomalies counted per tenant (unknown URN or label, duplicates, dead letters)')
    .requiredOption('--tenant <tenant>', 'tenant')
    .action(async (o) => print(await withDatabase((db) => catalogCounters(db, o.tenant))))
  catalog
    .command('shovel')
    .description('define, clear or list RabbitMQ shovels between instances (see scripts/shovel.sh)')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]')
    .action(async (args: string[]) => {
      process.exitCode = await shovelCli(args)
    })
  return catalog
}

