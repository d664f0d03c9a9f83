import { Command } from 'commander'
import type { RetryJob } from '../notifier/retry-jobs.ts'
import { requestsBulkRetry } from '../ops/requests-bulk-retry.ts'
import { requestsBulkRetryCancel } from '../ops/requests-bulk-retry-cancel.ts'
import { requestsBulkRetryEstimate } from '../ops/requests-bulk-retry-estimate.ts'
import { requestsBulkRetryList } from '../ops/requests-bulk-retry-list.ts'
import { requestsBulkRetryShow } from '../ops/requests-bulk-retry-show.ts'
import { requestsDecisions } from '../ops/requests-decisions.ts'
import type { RequestFilterInput } from '../ops/request-filter-input.ts'
import { positiveInt, printJson, progressLine } from './output.ts'
import { runOperation } from './run-operation.ts'
import { listingCommand, printOperation, tenantCommand } from './tenant-command.ts'

type FilterOptions = RequestFilterInput & { tenant: string }

/** The requests listing's filter as options (the same members as GET /requests). */
function withFilter(command: Command): Command {
  return command
    .option('--state <state>', 'GRANTED|SCHEDULED|RULE_ERROR|ERROR')
    .option('--recipient <businessId>', 'only the failures of this recipient')
    .option('--request-id <id>', 'this regards.request.id')
    .option('--owner <owner>', 'this regards.request.owner')
    .option('--from <date>', 'request date at or after (ISO-8601)')
    .option('--to <date>', 'request date before (ISO-8601)')
    .option('--field <path>', 'a payload field (properties.mission), with --value')
    .option('--value <value>', 'the value --field must have')
}

const FILTER_MEMBERS = ['state', 'recipient', 'requestId', 'owner', 'from', 'to', 'field', 'value'] as const
const filterOf = (opts: FilterOptions): RequestFilterInput => Object.fromEntries(FILTER_MEMBERS.filter((k) => opts[k] !== undefined).map((k) => [k, opts[k]]))

const line = (j: RetryJob) => `bulk retry ${j.id} ${j.state}: ${j.requests} of ${j.estimateExact ? '' : 'about '}${j.estimate} requests retried (${j.deliveries} deliveries, ${j.rematched} rematched)`

// A followed job is read twice a second, as the console does.
const FOLLOW_MS = 500

/** `herald requests bulk-retry estimate|start|list|show|cancel` and `herald requests decisions`. */
export function registerRetryJobCommands(requests: Command): void {
  tenantCommand(requests, 'decisions', 'per recipient, whether the rules in force match a stored request, and the clause that fails (JSON)')
    .argument('<requestId>', 'regards.request.id')
    .action((requestId: string, opts: { tenant: string }) => printOperation(opts.tenant, (deps, principal) => requestsDecisions(deps, principal, { requestId })))

  const bulk = requests.command('bulk-retry').description('retry everything a filter selects, as a job that a running Herald notifier runs in batches')

  withFilter(tenantCommand(bulk, 'estimate', 'how many requests the filter would retry now')).action((opts: FilterOptions) =>
    runOperation(opts.tenant, async (deps, principal) => {
      const estimate = await requestsBulkRetryEstimate(deps, principal, { filter: filterOf(opts) })
      process.stdout.write(`${estimate.exact ? '' : 'about '}${estimate.requests} requests (${estimate.exact ? 'exact count' : "the planner's estimate"})\n`)
    }),
  )

  withFilter(tenantCommand(bulk, 'start', 'start the job; --wait follows it to its end'))
    .option('--wait', 'print its progress until it ends')
    .action((opts: FilterOptions & { wait?: boolean }) =>
      runOperation(opts.tenant, async (deps, principal) => {
        let job = await requestsBulkRetry(deps, principal, { filter: filterOf(opts) })
        if (!opts.wait) return void process.stdout.write(`${line(job)}\n`)
        const progress = progressLine()
        while (job.state === 'running') {
          progress.update(`${line(job)}${job.taken ? '' : ' (waiting for a running Herald notifier to take it)'}…`)
          await new Promise((r) => setTimeout(r, FOLLOW_MS))
          job = await requestsBulkRetryShow(deps, principal, { id: job.id })
        }
        progress.done(line(job))
      }),
    )

  listingCommand(tenantCommand(bulk, 'list', "the tenant's jobs, newest first").option('--state <state>', 'running|done|cancelled|failed'), {
    noun: 'jobs',
    defaultLimit: 20,
    header: ['ID', 'STATE', 'RETRIED', 'COUNTED', 'STARTED BY', 'CREATED'],
    fetchPage: (deps, principal, opts: { state?: string }, page) => requestsBulkRetryList(deps, principal, { state: opts.state, ...page }),
    toRow: (j) => [String(j.id), j.state, String(j.requests), `${j.estimateExact ? '' : '~'}${j.estimate}`, j.subject ?? '', j.createdAt.toISOString()],
  })

  for (const [name, description] of [
    ['show', 'one job and its progress (JSON)'],
    ['cancel', 'cancel a running job: nothing more is retried'],
  ] as const) {
    tenantCommand(bulk, name, description)
      .argument('<id>', 'job id', positiveInt)
      .action((id: number, opts: { tenant: string }) =>
        runOperation(opts.tenant, async (deps, principal) => {
          if (name === 'show') printJson(await requestsBulkRetryShow(deps, principal, { id }))
          else process.stdout.write(`${line(await requestsBulkRetryCancel(deps, principal, { id }))}\n`)
        }),
      )
  }
}
