import fs from 'node:fs'
import { InvalidArgumentError, type Command } from 'commander'
import { Broker } from '../amqp/broker.ts'
import { networkPolicy } from '../senders/outbound-network.ts'
import { createLogger } from '../log.ts'
import { testRecipient, type SampleInput } from '../senders/test-recipient.ts'
import { findPlugin } from '../notifier/plugin-configurations.ts'
import { ERR_NOT_FOUND } from '../errors.ts'
import { parkRecipient, unparkRecipient } from '../notifier/recipient-state.ts'
import { listRecipients, recipientInfo, recipientStates } from '../notifier/recipient-listing.ts'
import { runAdmin, withAdminDatabase } from './admin-database.ts'
import { printTable } from './output.ts'
import { maskSecrets } from '../secrets/mask-secrets.ts'
import { loadSecretBox } from '../secrets/secret-box.ts'

/**
 * `herald recipients list|park|unpark`. A parked recipient's deliveries wait (nothing is dropped) and flow
 * again once it is un-parked; Herald parks a recipient itself after consecutive failures and probes it.
 */
export function registerRecipientsCommands(program: Command): void {
  const recipients = program.command('recipients').description('recipients: list with their backlog, park, unpark, test')

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

  recipients
    .command('test')
    .description('send one sample product through the recipient\'s real sender (nothing is recorded) and print the outcome')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--file <file>', 'JSON file {"payload": {…}, "metadata": {…}} ("-" for stdin); default: a built-in GeoJSON feature')
    .option('--json', 'the JSON object POST /api/v1/recipients/{businessId}/test answers')
    .argument('<businessId>', 'recipient businessId')
    .action((businessId: string, opts: { tenant: string; file?: string; json?: boolean }) =>
      runAdmin(() =>
        withAdminDatabase(async (db, config) => {
          const input = opts.file ? readSample(opts.file) : {}
          const log = createLogger('silent')
          const broker = new Broker(config.amqpUrl, config.instanceName, log, config.amqpHosts)
          try {
            const outcome = await testRecipient(db, loadSecretBox(config), { broker, log, network: networkPolicy(config.allowPrivateNetworks), tenant: opts.tenant, crossTenantPublish: config.crossTenantPublish }, opts.tenant, businessId, input)
            if (opts.json) process.stdout.write(`${JSON.stringify(outcome)}\n`)
            else {
              const what = outcome.delivered ? `delivered${outcome.answer ? ` (${outcome.answer})` : ''}` : `NOT delivered: ${outcome.errorClass} ${outcome.message}${outcome.permanent ? ' (permanent)' : ''}`
              process.stdout.write(`recipient ${businessId} (${outcome.pluginId}): ${what} in ${outcome.latencyMs} ms, ${outcome.sample} sample product\n`)
            }
            if (!outcome.delivered) process.exitCode = 1
          } finally {
            await broker.close()
          }
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

function readSample(file: string): SampleInput {
  let parsed: unknown
  try {
    parsed = JSON.parse(fs.readFileSync(file === '-' ? 0 : file, 'utf8'))
  } catch (err) {
    throw new InvalidArgumentError(`${file}: ${(err as Error).message}`)
  }
  const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v)
  const sample = parsed as SampleInput
  if (!isObject(parsed) || (sample.payload !== undefined && !isObject(sample.payload)) || (sample.metadata !== undefined && !isObject(sample.metadata))) {
    throw new InvalidArgumentError(`${file} must be a JSON object {"payload": {…}, "metadata": {…}}`)
  }
  return { payload: sample.payload, metadata: sample.metadata }
}
