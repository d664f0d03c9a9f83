import type { Command } from 'commander'
import { findPlugin } from '../http/admin/plugin-configurations.ts'
import { ERR_NOT_FOUND } from '../http/errors.ts'
import { parkRecipient, unparkRecipient } from '../notifier/recipient-state.ts'
import { listRecipients, recipientInfo, recipientStates } from '../http/admin/recipients.ts'
import { printTable, runAdmin, withAdminDatabase } from '../http/admin/cli-support.ts'
import { maskSecrets } from '../http/secrets.ts'

/**
 * `herald recipients list|park|unpark`. A parked recipient's deliveries wait (nothing is dropped) and flow
 * again once it is un-parked; Herald parks a recipient itself after consecutive failures and probes it.
 */
export function registerRecipientsCommands(program: Command): void {
  const recipients = program.command('recipients').description('recipients: list with their backlog, park, unpark')

  recipients
    .command('list')
    .description('list recipients with their backlog, oldest waiting age and last error')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--json', 'one JSON object per line (secrets masked)')
    .action((opts: { tenant: string; json?: boolean }) =>
      runAdmin(() =>
        withAdminDatabase(async (db) => {
          const rows = await listRecipients(db, opts.tenant, {})
          const states = await recipientStates(db, opts.tenant, rows.map((r) => r.id))
          const table: string[][] = [['BUSINESS ID', 'PLUGIN', 'ACTIVE', 'PARKED', 'BACKLOG', 'OLDEST (s)', 'ERRORS', 'LAST ERROR']]
          for (const row of rows) {
            const state = states.get(row.id)!
            if (opts.json) {
              const info = recipientInfo(row)
              process.stdout.write(
                `${JSON.stringify({ businessId: row.business_id, pluginId: row.plugin_id, label: row.label, active: row.active, recipientLabel: info.recipientLabel ?? null, directNotificationEnabled: info.directNotificationEnabled, parameters: maskSecrets(row.plugin_id, row.parameters), state })}\n`,
              )
            } else {
              table.push([row.business_id, row.plugin_id, row.active ? 'yes' : 'no', state.parked ? 'PARKED' : '', String(state.backlog), String(state.oldestWaitingSeconds), String(state.errors), state.lastError?.message.slice(0, 80) ?? ''])
            }
          }
          if (!opts.json) printTable(table)
        }),
      ),
    )

  for (const [name, active] of [['park', false], ['unpark', true]] as const) {
    recipients
      .command(name)
      .description(active ? 'resume deliveries to a parked recipient: its backlog drains' : 'hold deliveries to a recipient: they wait, nothing is dropped')
      .requiredOption('--tenant <tenant>', 'tenant')
      .argument('<businessId>', 'recipient businessId')
      .action((businessId: string, opts: { tenant: string }) =>
        runAdmin(() =>
          withAdminDatabase(async (db) => {
            const row = await findPlugin(db, opts.tenant, 'RECIPIENT', businessId)
            if (!row) throw ERR_NOT_FOUND(`no recipient ${businessId}`)
            if (active) await unparkRecipient(db, row.id)
            else await parkRecipient(db, { id: row.id, tenant: opts.tenant }, 'parked by an operator (herald recipients park)')
            const state = (await recipientStates(db, opts.tenant, [row.id])).get(row.id)!
            process.stdout.write(`recipient ${businessId} ${active ? 'unparked' : 'parked'} (${state.backlog} deliveries waiting); running instances apply it within a second\n`)
          }),
        ),
      )
  }
}
