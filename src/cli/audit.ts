import type { Command } from 'commander'
import { auditList } from '../ops/audit-list.ts'
import { isoDate } from './output.ts'
import { listingCommand, tenantCommand } from './tenant-command.ts'

interface AuditFilter {
  action?: string
  subject?: string
  target?: string
  outcome?: string
  since?: Date
  until?: Date
}

/** `herald audit list`: the audit trail of src/ops/audit-list.ts, for scripts and for the operator. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the audit trail: who changed what, when, and how it ended')

  const list = tenantCommand(audit, 'list', 'list audit entries, newest first')
    .option('--action <action>', 'this action (requests.retry)')
    .option('--subject <subject>', 'done by this subject (a token sub, a console user, cli:<os user>)')
    .option('--target <target>', 'on this target (a request id, a businessId)')
    .option('--outcome <outcome>', 'ok, or the error code a refusal was recorded with (HERALD_ERR_NOT_FOUND)')
    .option('--since <date>', 'at or after (ISO-8601)', isoDate)
    .option('--until <date>', 'before (ISO-8601)', isoDate)
  listingCommand(list, {
    noun: 'entries',
    defaultLimit: 100,
    header: ['AT', 'SUBJECT', 'ROLE', 'ACTION', 'TARGET', 'OUTCOME'],
    fetchPage: (deps, principal, { action, subject, target, outcome, since, until }: AuditFilter, page) =>
      auditList(deps, principal, { action, subject, target, outcome, since, until, ...page }),
    toRow: (e) => [e.at.toISOString(), e.subject ?? '', e.role, e.action, e.target ?? '', e.outcome],
  })
}
