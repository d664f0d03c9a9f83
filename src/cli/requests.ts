import { Command, InvalidArgumentError } from 'commander'
import { REQUEST_STATES, type RequestFilter, type RequestState } from '../notifier/request-listing.ts'
import { requestsDelete } from '../ops/requests-delete.ts'
import { requestsList } from '../ops/requests-list.ts'
import { requestsRetry } from '../ops/requests-retry.ts'
import { requestsShow } from '../ops/requests-show.ts'
import { isoDate, positiveInt, printJson, printListing, progressLine } from './output.ts'
import { registerRetryJobCommands } from './retry-jobs.ts'
import { runOperation } from './run-operation.ts'

function state(value: string): RequestState {
  if (!(REQUEST_STATES as readonly string[]).includes(value)) throw new InvalidArgumentError(`one of ${REQUEST_STATES.join(', ')}`)
  return value as RequestState
}

interface ListOptions extends RequestFilter {
  tenant: string
  limit: number
  json?: boolean
}

/** `herald requests list|show|retry|delete`: the operations of src/ops/requests-*.ts, for scripts. */
export function registerRequestsCommands(program: Command): void {
  const requests = program.command('requests').description('notification requests: list, show, retry, delete')

  requests
    .command('list')
    .description('list requests, newest first (live and completed)')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--state <state>', REQUEST_STATES.join('|'), state)
    .option('--recipient <businessId>', 'requests with a delivery to this recipient')
    .option('--request-id <id>', 'this regards.request.id')
    .option('--owner <owner>', 'this regards.request.owner')
    .option('--from <date>', 'request date at or after (ISO-8601)', isoDate)
    .option('--to <date>', 'request date before (ISO-8601)', isoDate)
    .option('--field <path>', 'a payload field (properties.mission), with --value')
    .option('--value <value>', 'the value --field must have')
    .option('--limit <n>', 'at most n requests', positiveInt, 100)
    .option('--json', 'one JSON object per line')
    .action((opts: ListOptions) =>
      runOperation(opts.tenant, async (deps, principal) => {
        const filter = { state: opts.state, recipient: opts.recipient, requestId: opts.requestId, owner: opts.owner, from: opts.from, to: opts.to, field: opts.field, value: opts.value }
        await printListing({
          limit: opts.limit,
          json: opts.json,
          header: ['REQUEST ID', 'STATE', 'MODE', 'OWNER', 'REQUEST DATE', 'PENDING/SENDING/SUCCESS/ERROR'],
          fetchPage: (limit, cursor) => requestsList(deps, principal, { ...filter, limit, cursor }),
          toJson: (r) => r,
          toRow: (r) => {
            const d = r.deliveries
            return [r.requestId, r.state, r.mode, r.requestOwner ?? '', r.requestDate.toISOString(), `${d.pending}/${d.sending}/${d.success}/${d.error}`]
          },
        })
      }),
    )

  requests
    .command('show')
    .description('one request (JSON): its deliveries and every failed attempt')
    .requiredOption('--tenant <tenant>', 'tenant')
    .argument('<requestId>', 'regards.request.id')
    .action((requestId: string, opts: { tenant: string }) =>
      runOperation(opts.tenant, async (deps, principal) => printJson(await requestsShow(deps, principal, { requestId }))),
    )

  requests
    .command('retry')
    .description('retry failures: deliveries in ERROR go back to PENDING, RULE_ERROR requests back to matching; running instances start at once')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--all', 'every failure of the tenant')
    .option('--recipient <businessId>', 'only the deliveries to this recipient')
    .argument('[requestIds...]', 'the requests to retry (regards.request.id)')
    .action((requestIds: string[], opts: { tenant: string; all?: boolean; recipient?: string }) =>
      runOperation(opts.tenant, async (deps, principal) => {
        const progress = progressLine()
        const outcome = await requestsRetry(deps, principal, {
          all: opts.all,
          ...(requestIds.length === 1 ? { requestId: requestIds[0] } : requestIds.length > 1 ? { requestIds } : {}),
          recipient: opts.recipient,
          onProgress: (o) => progress.update(`retried ${o.requests} requests (${o.deliveries} deliveries, ${o.rematched} re-matched)…`),
        })
        progress.done(`retried ${outcome.requests} requests: ${outcome.deliveries} deliveries back to PENDING, ${outcome.rematched} requests re-matched`)
      }),
    )

  requests
    .command('delete')
    .description('delete a request: the live one with its deliveries and attempts, and its history')
    .requiredOption('--tenant <tenant>', 'tenant')
    .argument('<requestId>', 'regards.request.id')
    .action((requestId: string, opts: { tenant: string }) =>
      runOperation(opts.tenant, async (deps, principal) => {
        const { deleted } = await requestsDelete(deps, principal, { requestId })
        process.stdout.write(`request ${requestId} deleted (${deleted} rows, live and history)\n`)
      }),
    )

  registerRetryJobCommands(requests)
}
