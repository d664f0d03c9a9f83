import { Command, InvalidArgumentError } from 'commander'
import { REQUEST_STATES, type RequestFilter, type RequestState } from '../notifier/request-listing.ts'
import { requestsDelete } from '../ops/requests-delete.ts'
import { requestsList } from '../ops/requests-list.ts'
import { requestsRetry } from '../ops/requests-retry.ts'
import { requestsShow } from '../ops/requests-show.ts'
import { isoDate, progressLine } from './output.ts'
import { registerRetryJobCommands } from './retry-jobs.ts'
import { runOperation } from './run-operation.ts'
import { listingCommand, showCommand, tenantCommand } from './tenant-command.ts'

function state(value: string): RequestState {
  if (!(REQUEST_STATES as readonly string[]).includes(value)) throw new InvalidArgumentError(`one of ${REQUEST_STATES.join(', ')}`)
  return value as RequestState
}

/** `herald requests list|show|retry|delete`: the operations of src/ops/requests-*.ts, for scripts. */
export function registerRequestsCommands(program: Command): void {
  const requests = program.command('requests').description('notification requests: list, show, retry, delete')

  const list = tenantCommand(requests, 'list', 'list requests, newest first (live and completed)')
    .option('--state <state>', REQUEST_STATES.join('|'), state)
    .option('--recipient <businessId>', 'requests with a delivery to this recipient')
    .option('--request-id <id>', 'this regards.request.id')
    .option('--owner <owner>', 'this regards.request.owner')
    .option('--from <date>', 'request date at or after (ISO-8601)', isoDate)
    .option('--to <date>', 'request date before (ISO-8601)', isoDate)
    .option('--field <path>', 'a payload field (properties.mission), with --value')
    .option('--value <value>', 'the value --field must have')
  listingCommand(list, {
    noun: 'requests',
    defaultLimit: 100,
    header: ['REQUEST ID', 'STATE', 'MODE', 'OWNER', 'REQUEST DATE', 'PENDING/SENDING/SUCCESS/ERROR'],
    fetchPage: (deps, principal, { state, recipient, requestId, owner, from, to, field, value }: RequestFilter, page) =>
      requestsList(deps, principal, { state, recipient, requestId, owner, from, to, field, value, ...page }),
    toRow: (r) => {
      const d = r.deliveries
      return [r.requestId, r.state, r.mode, r.requestOwner ?? '', r.requestDate.toISOString(), `${d.pending}/${d.sending}/${d.success}/${d.error}`]
    },
  })

  showCommand(requests, 'one request (JSON): its deliveries and every failed attempt', { name: 'requestId', help: 'regards.request.id' }, (deps, principal, requestId) =>
    requestsShow(deps, principal, { requestId }),
  )

  tenantCommand(requests, 'retry', 'retry failures: deliveries in ERROR go back to PENDING, RULE_ERROR requests back to matching; running instances start at once')
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

  tenantCommand(requests, 'delete', 'delete a request: the live one with its deliveries and attempts, and its history')
    .argument('<requestId>', 'regards.request.id')
    .action((requestId: string, opts: { tenant: string }) =>
      runOperation(opts.tenant, async (deps, principal) => {
        const { deleted } = await requestsDelete(deps, principal, { requestId })
        process.stdout.write(`request ${requestId} deleted (${deleted} rows, live and history)\n`)
      }),
    )

  registerRetryJobCommands(requests)
}
