import { Command, InvalidArgumentError } from 'commander'
import { getRequest, listRequests, REQUEST_STATES, retryRequests, type RequestState } from '../http/admin/requests.ts'
import { isoDate, positiveInt, printListing, progressLine, runAdmin, withAdminDatabase } from '../http/admin/cli-support.ts'
import { ERR_NOT_FOUND } from '../errors.ts'

function state(value: string): RequestState {
  if (!(REQUEST_STATES as readonly string[]).includes(value)) throw new InvalidArgumentError(`one of ${REQUEST_STATES.join(', ')}`)
  return value as RequestState
}

interface ListOptions {
  tenant: string
  state?: RequestState
  recipient?: string
  requestId?: string
  owner?: string
  from?: Date
  to?: Date
  limit: number
  json?: boolean
}

/** `herald requests list|show|retry`: the REST operations on notification requests, for scripts. */
export function registerRequestsCommands(program: Command): void {
  const requests = program.command('requests').description('notification requests: list, show, retry')

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
    .option('--limit <n>', 'at most n requests', positiveInt, 100)
    .option('--json', 'one JSON object per line')
    .action((opts: ListOptions) =>
      runAdmin(() =>
        withAdminDatabase(async (db) => {
          const filter = { state: opts.state, recipient: opts.recipient, requestId: opts.requestId, owner: opts.owner, from: opts.from, to: opts.to }
          await printListing({
            limit: opts.limit,
            json: opts.json,
            header: ['REQUEST ID', 'STATE', 'MODE', 'OWNER', 'REQUEST DATE', 'PENDING/SENDING/SUCCESS/ERROR'],
            fetchPage: (limit, before) => listRequests(db, opts.tenant, filter, limit, before),
            toJson: (r) => ({ ...r, id: undefined }),
            toRow: (r) => {
              const d = r.deliveries
              return [r.requestId, r.state, r.mode, r.requestOwner ?? '', r.requestDate.toISOString(), `${d.pending}/${d.sending}/${d.success}/${d.error}`]
            },
          })
        }),
      ),
    )

  requests
    .command('show')
    .description('one request (JSON): its deliveries and every failed attempt')
    .requiredOption('--tenant <tenant>', 'tenant')
    .argument('<requestId>', 'regards.request.id')
    .action((requestId: string, opts: { tenant: string }) =>
      runAdmin(() =>
        withAdminDatabase(async (db) => {
          const detail = await getRequest(db, opts.tenant, requestId)
          if (!detail) throw ERR_NOT_FOUND(`no request ${requestId} in tenant ${opts.tenant}`)
          process.stdout.write(`${JSON.stringify({ ...detail, id: undefined }, null, 2)}\n`)
        }),
      ),
    )

  requests
    .command('retry')
    .description('retry failures: deliveries in ERROR go back to PENDING, RULE_ERROR requests back to matching')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--all', 'every failure of the tenant')
    .option('--recipient <businessId>', 'only the deliveries to this recipient')
    .argument('[requestIds...]', 'the requests to retry (regards.request.id)')
    .action((requestIds: string[], opts: { tenant: string; all?: boolean; recipient?: string }) =>
      runAdmin(() =>
        withAdminDatabase(async (db) => {
          if (!!opts.all === (requestIds.length > 0)) throw new InvalidArgumentError('give either --all or request ids')
          const progress = progressLine()
          const outcome = await retryRequests(db, opts.tenant, { requestIds: opts.all ? undefined : requestIds, recipient: opts.recipient }, (o) =>
            progress.update(`retried ${o.requests} requests (${o.deliveries} deliveries, ${o.rematched} re-matched)…`),
          )
          progress.done(`retried ${outcome.requests} requests: ${outcome.deliveries} deliveries back to PENDING, ${outcome.rematched} requests re-matched`)
          // A running Herald takes them within its 250 ms poll; nothing to wake from here.
        }),
      ),
    )
}
