import type { Command } from 'commander'
import type { OpsDeps } from '../ops/deps.ts'
import type { Page } from '../ops/page.ts'
import type { Principal } from '../ops/principal.ts'
import { positiveInt, printJson, printListing } from './output.ts'
import { runOperation } from './run-operation.ts'

/** A command on one tenant's data: `--tenant` names it (and the audit trail that records what the command changes). */
export function tenantCommand(parent: Command, name: string, description: string, tenantHelp = 'tenant'): Command {
  return parent.command(name).description(description).requiredOption('--tenant <tenant>', tenantHelp)
}

/** Runs an operation for `tenant` and prints what it answers as JSON. */
export function printOperation(tenant: string, operation: (deps: OpsDeps, principal: Principal) => Promise<unknown>): Promise<void> {
  return runOperation(tenant, async (deps, principal) => printJson(await operation(deps, principal)))
}

/**
 * `<group> show --tenant T <id>`: one object of the tenant, printed as the JSON its operation answers (as
 * the REST route's GET). `id` names the argument and its help, and may parse it (`positiveInt`).
 */
export function showCommand<Id = string>(
  group: Command,
  description: string,
  id: { name: string; help: string; parse?: (value: string) => Id },
  show: (deps: OpsDeps, principal: Principal, id: Id) => Promise<unknown>,
): void {
  const command = tenantCommand(group, 'show', description)
  if (id.parse) command.argument(`<${id.name}>`, id.help, id.parse)
  else command.argument(`<${id.name}>`, id.help)
  command.action((value: Id, opts: { tenant: string }) => printOperation(opts.tenant, (deps, principal) => show(deps, principal, value)))
}

/**
 * Makes `command` a listing: `--limit` (`at most n <noun>`) and `--json` after its own options, then the
 * operation's pages as a table of `header` columns, or one JSON object per line with `--json`.
 */
export function listingCommand<T, O extends object = object>(
  command: Command,
  spec: {
    noun: string
    defaultLimit: number
    jsonHelp?: string
    header: string[]
    /** `opts`: the command's own options, as commander parsed them. */
    fetchPage(deps: OpsDeps, principal: Principal, opts: O, page: { limit: number; cursor: string | undefined }): Promise<Page<T>>
    toRow(item: T): string[]
  },
): Command {
  return command
    .option('--limit <n>', `at most n ${spec.noun}`, positiveInt, spec.defaultLimit)
    .option('--json', spec.jsonHelp ?? 'one JSON object per line')
    .action((opts: O & { tenant: string; limit: number; json?: boolean }) =>
      runOperation(opts.tenant, (deps, principal) =>
        printListing({
          limit: opts.limit,
          json: opts.json,
          header: spec.header,
          fetchPage: (limit, cursor) => spec.fetchPage(deps, principal, opts, { limit, cursor }),
          toRow: spec.toRow,
        }),
      ),
    )
}
