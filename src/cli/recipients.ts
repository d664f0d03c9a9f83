import type { Command } from 'commander'
import type { RecipientView } from '../notifier/recipient-listing.ts'
import { recipientsActivate } from '../ops/recipients-activate.ts'
import { recipientsCreate } from '../ops/recipients-create.ts'
import { recipientsDeactivate } from '../ops/recipients-deactivate.ts'
import { recipientsDelete } from '../ops/recipients-delete.ts'
import { recipientsList } from '../ops/recipients-list.ts'
import { recipientsPark } from '../ops/recipients-park.ts'
import { recipientsShow } from '../ops/recipients-show.ts'
import { recipientsTest } from '../ops/recipients-test.ts'
import { recipientsUnpark } from '../ops/recipients-unpark.ts'
import { recipientsUpdate } from '../ops/recipients-update.ts'
import { printJson, readJsonInput } from './output.ts'
import { runOperation } from './run-operation.ts'
import { listingCommand, showCommand, tenantCommand } from './tenant-command.ts'

const line = (text: string) => process.stdout.write(`${text}\n`)
const waiting = (r: RecipientView) => `${r.state.backlog} deliveries waiting`

/**
 * `herald recipients list|show|create|update|delete|activate|deactivate|park|unpark|test`: the operations of
 * src/ops/recipients-*.ts. A parked or inactive recipient's deliveries wait (nothing is dropped); Herald
 * parks a recipient itself after consecutive failures and probes it.
 */
export function registerRecipientsCommands(program: Command): void {
  const recipients = program.command('recipients').description('recipients: list, show, create, update, delete, (de)activate, park, unpark, test')

  listingCommand(tenantCommand(recipients, 'list', 'list recipients with their backlog, oldest waiting age and last error'), {
    noun: 'recipients',
    defaultLimit: 1000,
    jsonHelp: 'one JSON object per line (secrets masked)',
    header: ['BUSINESS ID', 'PLUGIN', 'ACTIVE', 'PARKED', 'BACKLOG', 'OLDEST (s)', 'ERRORS', 'LAST ERROR'],
    fetchPage: (deps, principal, _opts, page) => recipientsList(deps, principal, page),
    toRow: ({ state, ...r }) => [r.businessId, r.pluginId, r.active ? 'yes' : 'no', state.parked ? 'PARKED' : '', String(state.backlog), String(state.oldestWaitingSeconds), String(state.errors), state.lastError?.message.slice(0, 80) ?? ''],
  })

  showCommand(recipients, 'one recipient (JSON, secrets masked) with its live state', { name: 'businessId', help: 'recipient businessId' }, (deps, principal, businessId) =>
    recipientsShow(deps, principal, { businessId }),
  )

  tenantCommand(recipients, 'create', 'create a recipient from the JSON body POST /api/v1/recipients takes')
    .option('--file <file>', 'the JSON body {businessId?, pluginId, label, parameters, …}; default: stdin')
    .option('--json', 'print the recipient created (JSON)')
    .action((opts: { tenant: string; file?: string; json?: boolean }) =>
      runOperation(opts.tenant, async (deps, principal) => {
        const created = await recipientsCreate(deps, principal, { body: readJsonInput(opts.file) })
        if (opts.json) printJson(created)
        else line(`recipient ${created.businessId} created (${created.pluginId}); running instances apply it within a second`)
      }),
    )

  tenantCommand(recipients, 'update', 'replace a recipient configuration with the JSON body PUT /api/v1/recipients/{businessId} takes (secrets given as ******** keep their stored value)')
    .option('--file <file>', 'the JSON body {pluginId, label, parameters, …}; default: stdin')
    .option('--json', 'print the recipient updated (JSON)')
    .argument('<businessId>', 'recipient businessId')
    .action((businessId: string, opts: { tenant: string; file?: string; json?: boolean }) =>
      runOperation(opts.tenant, async (deps, principal) => {
        const updated = await recipientsUpdate(deps, principal, { businessId, body: readJsonInput(opts.file) })
        if (opts.json) printJson(updated)
        else line(`recipient ${businessId} updated; running instances apply it within a second`)
      }),
    )

  tenantCommand(recipients, 'delete', 'delete a recipient; refused while it has deliveries waiting or in progress, unless --force drops them')
    .option('--force', 'drop its waiting deliveries and complete the requests left with nothing to deliver')
    .argument('<businessId>', 'recipient businessId')
    .action((businessId: string, opts: { tenant: string; force?: boolean }) =>
      runOperation(opts.tenant, async (deps, principal) => {
        const deleted = await recipientsDelete(deps, principal, { businessId, force: opts.force })
        line(`recipient ${businessId} deleted (${deleted.droppedDeliveries} deliveries dropped, ${deleted.completedRequests} requests completed)`)
      }),
    )

  for (const [name, operation, description, done] of [
    ['activate', recipientsActivate, 'activate a recipient: its waiting deliveries flow again', 'activated'],
    ['deactivate', recipientsDeactivate, 'deactivate a recipient: its deliveries wait, nothing is dropped', 'deactivated'],
    ['unpark', recipientsUnpark, 'resume deliveries to a parked recipient: its backlog drains', 'unparked'],
  ] as const) {
    tenantCommand(recipients, name, description)
      .argument('<businessId>', 'recipient businessId')
      .action((businessId: string, opts: { tenant: string }) =>
        runOperation(opts.tenant, async (deps, principal) => {
          const recipient = await operation(deps, principal, { businessId })
          line(`recipient ${businessId} ${done} (${waiting(recipient)}); running instances apply it within a second`)
        }),
      )
  }

  tenantCommand(recipients, 'park', 'hold deliveries to a recipient: they wait, nothing is dropped')
    .option('--reason <text>', 'shown with its state; default: who parked it')
    .argument('<businessId>', 'recipient businessId')
    .action((businessId: string, opts: { tenant: string; reason?: string }) =>
      runOperation(opts.tenant, async (deps, principal) => {
        const recipient = await recipientsPark(deps, principal, { businessId, reason: opts.reason })
        line(`recipient ${businessId} parked (${waiting(recipient)}); running instances apply it within a second`)
      }),
    )

  tenantCommand(recipients, 'test', "send one sample product through the recipient's real sender (nothing is recorded) and print the outcome; exit 1 when not delivered")
    .option('--file <file>', 'JSON file {"payload": {…}, "metadata": {…}} ("-" for stdin); default: a built-in GeoJSON feature')
    .option('--json', 'the JSON object POST /api/v1/recipients/{businessId}/test answers')
    .argument('<businessId>', 'recipient businessId')
    .action((businessId: string, opts: { tenant: string; file?: string; json?: boolean }) =>
      runOperation(opts.tenant, async (deps, principal) => {
        const outcome = await recipientsTest(deps, principal, { businessId, body: opts.file ? readJsonInput(opts.file) : {} })
        if (opts.json) printJson(outcome, true)
        else {
          const what = outcome.delivered ? `delivered${outcome.answer ? ` (${outcome.answer})` : ''}` : `NOT delivered: ${outcome.errorClass} ${outcome.message}${outcome.permanent ? ' (permanent)' : ''}`
          line(`recipient ${businessId} (${outcome.pluginId}): ${what} in ${outcome.latencyMs} ms, ${outcome.sample} sample product`)
        }
        if (!outcome.delivered) process.exitCode = 1
      }),
    )
}
