import { Command, InvalidArgumentError } from 'commander'
import type { ShovelSpec } from '../catalog/shovel.ts'
import { PRIORITY_LEVELS, type DisseminationStatus, type PriorityLevel, type RequestType } from '../catalog/types.ts'
import { ERR_VALIDATION } from '../errors.ts'
import { catalogCounters } from '../ops/catalog-counters.ts'
import { catalogCreateAips } from '../ops/catalog-create-aips.ts'
import { catalogDisseminate } from '../ops/catalog-disseminate.ts'
import { catalogForceDeletion } from '../ops/catalog-force-deletion.ts'
import { catalogProduct } from '../ops/catalog-product.ts'
import { catalogProducts } from '../ops/catalog-products.ts'
import { catalogRequests } from '../ops/catalog-requests.ts'
import { catalogRetry } from '../ops/catalog-retry.ts'
import { catalogSetting } from '../ops/catalog-setting.ts'
import { catalogShovelClear, catalogShovelCommand, catalogShovelSet, catalogShovelStatus } from '../ops/catalog-shovel.ts'
import { positiveInt, printJson, readJsonInput } from './output.ts'
import { cliPrincipal, runCommand, runOperation } from './run-operation.ts'
import { printOperation, tenantCommand } from './tenant-command.ts'

const collect = (value: string, previous: string[] = []) => [...previous, value]

function priority(value: string): PriorityLevel {
  if (!Object.hasOwn(PRIORITY_LEVELS, value)) throw new InvalidArgumentError(`one of ${Object.keys(PRIORITY_LEVELS).join(', ')}`)
  return value as PriorityLevel
}

/** A JSON command-line value (`false`, `"text"`); refused as invalid input when it is not JSON. */
function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw ERR_VALIDATION(`${what} is not JSON: ${text.slice(0, 100)}`)
  }
}

/** A shell word as the shell reads it back: quoted unless plain. */
const shellWord = (word: string) => (/^[\w./:=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)

interface ShovelSetOptions extends ShovelSpec {
  tenant: string
  deadLetterRoutingKey?: string
  declareSource: boolean
  print?: boolean
}

/**
 * `herald catalog …`: the catalog's operator commands over the operations of src/ops/catalog-*.ts (products,
 * requests, forced deletions, retries, manual dissemination, AIP records, settings, counters, shovels). Results
 * are JSON on stdout; a refusal is one line on stderr and the exit code of its kind (src/cli/run-operation.ts).
 *
 * @example
 * herald catalog products --tenant project1 --status PENDING --label mission-b
 * herald catalog force-deletion --tenant project1 --urn URN:FEATURE:DATA:project1:…:V1
 */
export function registerCatalogCommands(program: Command): void {
  const catalog = program.command('catalog').description('catalog products, dissemination tracking and acknowledgements')
  tenantCommand(catalog, 'products', 'list products with their dissemination infos (JSON page; pass nextCursor back with --cursor)')
    .option('--status <status>', 'NONE, PENDING or DONE (repeatable)', collect)
    .option('--label <label>', 'recipient label (with --status: that recipient’s status)')
    .option('--urn <urn>', 'product URN (repeatable)', collect)
    .option('--kind <kind>', 'FEATURE or AIP')
    .option('--limit <n>', 'page size', positiveInt)
    .option('--cursor <cursor>', 'nextCursor of the previous page')
    .action((o) =>
      printOperation(o.tenant, (deps, principal) =>
        catalogProducts(deps, principal, { status: o.status as DisseminationStatus[] | undefined, label: o.label, urn: o.urn, kind: o.kind, limit: o.limit, cursor: o.cursor }),
      ),
    )
  tenantCommand(catalog, 'product', 'one product by URN, with its content and dissemination infos')
    .argument('<urn>', 'product URN')
    .action((urn: string, o) => printOperation(o.tenant, (deps, principal) => catalogProduct(deps, principal, { urn })))
  tenantCommand(catalog, 'requests', 'list catalog requests by state (GRANTED, ERROR, or SUCCESS from the history)')
    .option('--state <state>', 'GRANTED, ERROR or SUCCESS')
    .option('--type <type>', 'CREATION, PATCH, DELETION, NOTIFICATION or AIP_DISSEMINATION')
    .option('--step <step>', 'e.g. WAITING_BLOCKING_DISSEMINATION, REMOTE_NOTIFICATION_ERROR')
    .option('--limit <n>', 'page size', positiveInt)
    .option('--cursor <cursor>', 'nextCursor of the previous page')
    .action((o) =>
      printOperation(o.tenant, (deps, principal) =>
        catalogRequests(deps, principal, { state: o.state, type: o.type as RequestType | undefined, step: o.step, limit: o.limit, cursor: o.cursor }),
      ),
    )
  tenantCommand(catalog, 'force-deletion', 'delete products whose deletion waits for a blocking dissemination, ignoring it')
    .option('--urn <urn>', 'product URN (repeatable)', collect)
    .option('--request-id <id>', 'deletion request id (repeatable)', collect)
    .action((o) => printOperation(o.tenant, (deps, principal) => catalogForceDeletion(deps, principal, { urns: o.urn, requestIds: o.requestId })))
  tenantCommand(catalog, 'retry', 'retry requests in error (notification errors are sent to the notifier again); running instances start at once')
    .option('--request-id <id>', 'request id (repeatable; one: refused unless it is in error)', collect)
    .option('--type <type>', 'request type')
    .action((o: { tenant: string; requestId?: string[]; type?: RequestType }) =>
      printOperation(o.tenant, (deps, principal) =>
        catalogRetry(deps, principal, { ...(o.requestId?.length === 1 ? { requestId: o.requestId[0] } : { requestIds: o.requestId }), type: o.type }),
      ),
    )
  tenantCommand(catalog, 'disseminate', 'ask the notifier to disseminate products (rules, or the given recipients)')
    .requiredOption('--urn <urn>', 'product URN (repeatable)', collect)
    .option('--recipient <businessId>', 'notifier recipient business id (repeatable)', collect)
    .option('--owner <owner>', 'request owner', 'cli')
    .option('--priority <priority>', 'HIGH, NORMAL or LOW', priority, 'HIGH')
    .action((o) =>
      printOperation(o.tenant, (deps, principal) =>
        catalogDisseminate(deps, principal, { urns: o.urn, recipients: o.recipient, owner: o.owner, priority: o.priority }),
      ),
    )
  tenantCommand(catalog, 'create-aips', 'record AIPs from a JSON file: [{providerId, urn?, originUrn?, sessionOwner?, session?, aip?}] (exit 1 when an entry is refused)')
    .argument('<file>', 'JSON file ("-" for stdin)')
    .action((file: string, o) =>
      runOperation(o.tenant, async (deps, principal) => {
        const inputs = readJsonInput(file)
        const report = await catalogCreateAips(deps, principal, { aips: Array.isArray(inputs) ? inputs : [inputs] })
        printJson(report)
        if (report.results.some((r) => r.status === 'ERROR')) process.exitCode = 1
      }),
    )
  tenantCommand(catalog, 'setting', 'set a catalog tenant setting, e.g. active_notifications false')
    .argument('<name>', 'setting name')
    .argument('<value>', 'JSON value')
    .action((name: string, value: string, o) =>
      printOperation(o.tenant, (deps, principal) => catalogSetting(deps, principal, { name, value: parseJson(value, 'the value') })),
    )
  tenantCommand(catalog, 'counters', 'acknowledgement anomalies counted per tenant (unknown URN or label, duplicates, dead letters)')
    .action((o) => printOperation(o.tenant, (deps, principal) => catalogCounters(deps, principal)))
  registerShovelCommands(catalog)
}

/** `herald catalog shovel set|clear|status` (scripts/shovel.sh runs them): the broker's shovels, recorded in the audit trail of --tenant. */
function registerShovelCommands(catalog: Command): void {
  const shovel = catalog.command('shovel').description('define, clear or list RabbitMQ shovels between instances (needs rabbitmqctl on this host)')
  tenantCommand(shovel, 'set', 'declare the source queue with REGARDS’ arguments, define the shovel, and wait until it runs', 'tenant whose audit trail records it')
    .requiredOption('--name <name>', 'shovel name')
    .requiredOption('--vhost <vhost>', 'vhost the shovel is defined in')
    .requiredOption('--src-uri <uri>', 'source broker, e.g. amqp://user:password@broker-b:5672/regards.multitenant.manager')
    .requiredOption('--src-queue <queue>', 'source queue')
    .requiredOption('--dest-uri <uri>', 'destination broker, e.g. amqp:///regards.multitenant.manager')
    .requiredOption('--dest-exchange <exchange>', 'destination exchange')
    .option('--dest-exchange-key <key>', 'routing key of the published messages')
    .option('--ack-mode <mode>', 'on-confirm (default), on-publish or no-ack')
    .option('--dead-letter-routing-key <key>', 'of the declared source queue (default regards.DLQ)')
    .option('--no-declare-source', 'do not declare the source queue')
    .option('--print', 'only print the rabbitmqctl command (to run on the broker host)')
    .action(({ tenant, print, declareSource, deadLetterRoutingKey, ...spec }: ShovelSetOptions) => {
      if (print) return runCommand(() => void process.stdout.write(`${catalogShovelCommand(cliPrincipal(tenant), spec).map(shellWord).join(' ')}\n`))
      return runOperation(tenant, async (deps, principal) => {
        await catalogShovelSet(deps, principal, { ...spec, declareSource, deadLetterRoutingKey })
        process.stdout.write(`shovel ${spec.name} running: ${spec.srcQueue} → ${spec.destExchange}\n`)
      })
    })
  tenantCommand(shovel, 'clear', 'remove a shovel', 'tenant whose audit trail records it')
    .requiredOption('--name <name>', 'shovel name')
    .requiredOption('--vhost <vhost>', 'vhost the shovel is defined in')
    .action((o: { tenant: string; name: string; vhost: string }) =>
      runOperation(o.tenant, async (deps, principal) => {
        await catalogShovelClear(deps, principal, { vhost: o.vhost, name: o.name })
        process.stdout.write(`shovel ${o.name} cleared\n`)
      }),
    )
  tenantCommand(shovel, 'status', 'the broker’s shovels and their state (JSON)')
    .action((o: { tenant: string }) => printOperation(o.tenant, (deps, principal) => catalogShovelStatus(deps, principal)))
}
