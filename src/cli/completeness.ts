import type { Command } from 'commander'
import { COMPLETENESS_DAYS, completenessShow } from '../ops/completeness.ts'
import { completenessGapShow } from '../ops/completeness-gap.ts'
import { positiveInt, printJson, printTable } from './output.ts'
import { runOperation } from './run-operation.ts'

/**
 * `herald completeness [--days n]` and `herald completeness gap --recipient --day`: the console's
 * completeness screen (src/ops/completeness.ts, completeness-gap.ts). `gap` takes --tenant and --json
 * from the parent command (commander gives them to the parent wherever they stand).
 */
export function registerCompletenessCommands(program: Command): void {
  const completeness = program
    .command('completeness')
    .description('per recipient and UTC day: matched, delivered, acknowledged; and what one day misses (gap)')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--days <n>', `UTC days, today included (at most ${COMPLETENESS_DAYS.max})`, positiveInt, COMPLETENESS_DAYS.default)
    .option('--json', 'JSON instead of a table')
    .action((opts: { tenant: string; days: number; json?: boolean }) =>
      runOperation(opts.tenant, async (deps, principal) => {
        const matrix = await completenessShow(deps, principal, { days: opts.days })
        if (opts.json) return printJson(matrix)
        // One row per recipient × day with something matched: a week of 50 recipients stays readable.
        printTable([
          ['RECIPIENT', 'DAY', 'MATCHED', 'DELIVERED', 'ACKNOWLEDGED'],
          ...matrix.recipients.flatMap((r) =>
            r.cells.filter((c) => c.matched > 0).map((c) => [r.businessId, c.day, String(c.matched), String(c.delivered), c.acknowledged === null ? '-' : String(c.acknowledged)]),
          ),
        ])
      }),
    )

  completeness
    .command('gap')
    .description('the products matched for a recipient on a UTC day but not delivered, or not acknowledged when it requires it')
    .requiredOption('--recipient <businessId>', 'the recipient')
    .requiredOption('--day <day>', 'a UTC day, YYYY-MM-DD')
    .action((_opts: unknown, command: Command) => {
      const opts = command.optsWithGlobals<{ tenant: string; recipient: string; day: string; json?: boolean }>()
      return runOperation(opts.tenant, async (deps, principal) => {
        const gap = await completenessGapShow(deps, principal, { recipient: opts.recipient, day: opts.day })
        if (opts.json) return printJson(gap)
        printTable([
          ['REQUEST ID', 'PAYLOAD ID', 'STATE', 'RECEIVED'],
          ...gap.items.map((i) => [i.requestId, i.payloadId ?? '', i.state === 'SUCCESS' ? 'not acknowledged' : i.state, i.receivedAt.toISOString()]),
        ])
        if (gap.more) process.stdout.write(`more than ${gap.items.length} products missing: only the first are listed\n`)
        if (gap.retryable.length > 0) {
          process.stdout.write(`retry them: herald requests retry --tenant ${opts.tenant} --recipient ${opts.recipient} ${gap.retryable.join(' ')}\n`)
        }
      })
    })
}
