import type { Command } from 'commander'
import { auditList } from '../ops/audit-list.ts'
import { isoDate, positiveInt, printListing } from './output.ts'
import { runOperation } from './run-operation.ts'

interface ListOptions {
  tenant: string
  action?: string
  subject?: string
  target?: string
  outcome?: string
  since?: Date
  until?: Date
  limit: number
  json?: boolean
}

/** `herald audit list`: the audit trail of src/ops/audit-list.ts, for scripts and for the operator. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the audit trail: who changed what, when, and how it ended')

  audit
    .command('list')
    .description('list audit entries, newest first')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--action <action>', 'this action (requests.retry)')
    .option('--subject <subject>', 'done by this subject (a token sub, a console user, cli:<os user>)')
    .option('--target <target>', 'on this target (a request id, a businessId)')
    .option('--outcome <outcome>', 'ok, or the error code a refusal was recorded with (HERALD_ERR_NOT_FOUND)')
    .option('--since <date>', 'at or after (ISO-8601)', isoDate)
    .option('--until <date>', 'before (ISO-8601)', isoDate)
    .option('--limit <n>', 'at most n entries', positiveInt, 100)
    .option('--json', 'one JSON object per line')
    .action((opts: ListOptions) =>
      runOperation(opts.tenant, async (deps, principal) => {
        const filter = { action: opts.action, subject: opts.subject, target: opts.target, outcome: opts.outcome, since: opts.since, until: opts.until }
        await printListing({
          limit: opts.limit,
          json: opts.json,
          header: ['AT', 'SUBJECT', 'ROLE', 'ACTION', 'TARGET', 'OUTCOME'],
          fetchPage: (limit, cursor) => auditList(deps, principal, { ...filter, limit, cursor }),
          toJson: (e) => e,
          toRow: (e) => [e.at.toISOString(), e.subject ?? '', e.role, e.action, e.target ?? '', e.outcome],
        })
      }),
    )
}
