import type { Command } from 'commander'
import { rulesCreate } from '../ops/rules-create.ts'
import { rulesDelete } from '../ops/rules-delete.ts'
import { rulesList } from '../ops/rules-list.ts'
import { rulesShow } from '../ops/rules-show.ts'
import { rulesUpdate } from '../ops/rules-update.ts'
import type { RuleInput } from '../ops/rule-input.ts'
import { readJsonInput } from './output.ts'
import { runRulesTest } from './rules-test.ts'
import { runOperation } from './run-operation.ts'
import { listingCommand, printOperation, showCommand, tenantCommand } from './tenant-command.ts'

const BODY_HELP = 'the JSON body of the REST call (default: stdin)'

/** `herald rules list|show|create|update|delete`: the operations of src/ops/rules-*.ts; `herald rules test`: rules on sample messages, offline. */
export function registerRulesCommands(program: Command): void {
  const rules = program.command('rules').description('rules: list, show, create, update, delete; test rules on sample messages offline')

  listingCommand(tenantCommand(rules, 'list', 'list rules with their recipients, by businessId'), {
    noun: 'rules',
    defaultLimit: 100,
    jsonHelp: 'one JSON object per line, as GET /api/v1/rules lists them',
    header: ['BUSINESS ID', 'PLUGIN', 'ACTIVE', 'RECIPIENTS', 'LABEL'],
    fetchPage: (deps, principal, _opts, page) => rulesList(deps, principal, page),
    toRow: (r) => [r.businessId, r.pluginId, r.active ? 'yes' : 'no', r.recipients.join(',') || '-', r.label],
  })

  showCommand(rules, 'one rule (JSON), secrets masked', { name: 'businessId', help: 'the rule' }, (deps, principal, businessId) => rulesShow(deps, principal, { businessId }))

  tenantCommand(rules, 'create', 'create a rule from the body of POST /api/v1/rules ({"businessId"?, "pluginId", "label", "parameters", "recipients"}); prints it')
    .option('--file <file>', BODY_HELP)
    .action((opts: { tenant: string; file?: string }) => printOperation(opts.tenant, (deps, principal) => rulesCreate(deps, principal, readJsonInput(opts.file) as RuleInput)))

  tenantCommand(rules, 'update', 'replace a rule and its recipients with the body of PUT /api/v1/rules/{businessId}; prints it')
    .option('--file <file>', BODY_HELP)
    .argument('<businessId>', 'the rule')
    .action((businessId: string, opts: { tenant: string; file?: string }) =>
      printOperation(opts.tenant, (deps, principal) => rulesUpdate(deps, principal, { businessId, rule: readJsonInput(opts.file) as RuleInput })),
    )

  tenantCommand(rules, 'delete', 'delete a rule and its associations')
    .argument('<businessId>', 'the rule')
    .action((businessId: string, opts: { tenant: string }) =>
      runOperation(opts.tenant, async (deps, principal) => {
        await rulesDelete(deps, principal, { businessId })
        process.stdout.write(`rule ${businessId} deleted\n`)
      }),
    )

  // POST /api/v1/rules/test evaluates one sample for a tenant's token; this evaluates a stream of them
  // with no database and no tenant, the same way (src/ops/rules-test.ts).
  rules
    .command('test')
    .description('read JSON lines {"rule", "metadata", "payload"} on stdin, write {"match": …} or {"error": …} per line')
    .action(() => runRulesTest(process.stdin, process.stdout))
}
