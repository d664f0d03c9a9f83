import type { Command } from 'commander'
import { overviewShow } from '../ops/overview.ts'
import { printJson, printTable } from './output.ts'
import { runOperation } from './run-operation.ts'

/** `herald overview`: the console's overview (src/ops/overview.ts), for scripts and terminals. */
export function registerOverviewCommand(program: Command): void {
  program
    .command('overview')
    .description('per recipient backlog, oldest waiting delivery and last hour of deliveries; intake rate; dead letters')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--json', 'the whole overview as one JSON document (the 24 hourly buckets and the intake per minute included)')
    .action((opts: { tenant: string; json?: boolean }) =>
      runOperation(opts.tenant, async (deps, principal) => {
        const overview = await overviewShow(deps, principal)
        if (opts.json) return printJson(overview)
        printTable([
          ['RECIPIENT', 'STATE', 'BACKLOG', 'OLDEST WAITING (S)', 'ERRORS', 'DELIVERED 1H', 'FAILED 1H', 'DELIVERED 24H', 'FAILED 24H'],
          ...overview.recipients.map((r) => [
            r.businessId,
            !r.active ? 'inactive' : r.parked ? 'parked' : 'active',
            String(r.backlog),
            String(r.oldestWaitingSeconds),
            String(r.errors),
            String(r.lastHour.delivered),
            String(r.lastHour.failed),
            String(r.hourly.reduce((sum, h) => sum + h.delivered, 0)),
            String(r.hourly.reduce((sum, h) => sum + h.failed, 0)),
          ]),
        ])
        process.stdout.write(`intake: ${overview.intake.lastHour} requests in the last hour\ndead letters: ${overview.deadLetters}\n`)
      }),
    )
}
