import { Command, InvalidArgumentError } from 'commander'
import type { ReplayTarget } from '../dead-letters/replay.ts'
import { deadLettersDiscard } from '../ops/dead-letters-discard.ts'
import { deadLettersList } from '../ops/dead-letters-list.ts'
import { deadLettersReplay } from '../ops/dead-letters-replay.ts'
import type { DeadLetterSelection } from '../ops/dead-letters-selection.ts'
import { deadLettersShow } from '../ops/dead-letters-show.ts'
import { positiveInt, printJson, printListing, progressLine } from './output.ts'
import { EXIT_CODES, runOperation } from './run-operation.ts'

const ids = (value: string, previous: number[] = []) => [...previous, positiveInt(value)]

/** `--all`, or one id, or several: the selection of the operations (which refuse anything else). */
const selection = (given: number[] | undefined, opts: { all?: boolean; queue?: string }): DeadLetterSelection =>
  given?.length === 1 ? { id: given[0], queue: opts.queue } : { ids: given?.length ? given : undefined, all: opts.all, queue: opts.queue }

/**
 * `herald dlq list|show|replay|discard`: the operations of src/ops/dead-letters-*.ts, on the dead letters
 * the collector moved out of the `<queue>.DLQ` queues (it runs with the http role), of one tenant.
 */
export function registerDlqCommands(program: Command): void {
  const dlq = program.command('dlq').description('dead-lettered messages: list, show, replay, discard')

  dlq
    .command('list')
    .description('list dead letters, oldest first')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--queue <queue>', 'only the messages of this queue (or DLQ)')
    .option('--limit <n>', 'at most n messages', positiveInt, 100)
    .option('--json', 'one JSON object per line')
    .action((opts: { tenant: string; queue?: string; limit: number; json?: boolean }) =>
      runOperation(opts.tenant, (deps, principal) =>
        printListing({
          limit: opts.limit,
          json: opts.json,
          header: ['ID', 'QUEUE', 'REQUEST ID', 'DEAD-LETTERED', 'REASON'],
          fetchPage: (limit, cursor) => deadLettersList(deps, principal, { queue: opts.queue, limit, cursor }),
          toJson: (m) => m,
          toRow: (m) => [String(m.id), m.queue, m.requestId ?? '', (m.deadLetteredAt ?? m.collectedAt).toISOString(), (m.reason ?? '').slice(0, 100)],
        }),
      ),
    )

  dlq
    .command('show')
    .description('one dead letter (JSON): headers, properties and body (text, or base64 when it is not UTF-8)')
    .requiredOption('--tenant <tenant>', 'tenant')
    .argument('<id>', 'dead-letter id (see dlq list)', positiveInt)
    .action((id: number, opts: { tenant: string }) =>
      runOperation(opts.tenant, async (deps, principal) => printJson(await deadLettersShow(deps, principal, { id }))),
    )

  dlq
    .command('replay')
    .description('re-inject dead letters with their original headers; each is removed once the broker confirmed it')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--all', 'every dead letter of the tenant (of --queue)')
    .option('--queue <queue>', 'with --all: only the messages of this queue')
    .option('--target <target>', 'queue: back to the queue it failed in (default); exchange: to its original exchange (every bound queue)', (v) => {
      if (v !== 'queue' && v !== 'exchange') throw new InvalidArgumentError('queue or exchange')
      return v as ReplayTarget
    })
    .argument('[ids...]', 'dead-letter ids (see dlq list)', ids)
    .action((given: number[] | undefined, opts: { tenant: string; all?: boolean; queue?: string; target?: ReplayTarget }) =>
      runOperation(opts.tenant, async (deps, principal) => {
        const progress = progressLine()
        const outcome = await deadLettersReplay(deps, principal, { ...selection(given, opts), target: opts.target, onProgress: (n) => progress.update(`replayed ${n} messages…`) })
        progress.done(`replayed ${outcome.replayed.length} messages${outcome.missing.length > 0 ? `; not found: ${outcome.missing.join(', ')}` : ''}`)
        if (outcome.missing.length > 0) process.exitCode = EXIT_CODES.not_found
      }),
    )

  dlq
    .command('discard')
    .description('discard dead letters for good')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--all', 'every dead letter of the tenant (of --queue)')
    .option('--queue <queue>', 'with --all: only the messages of this queue')
    .argument('[ids...]', 'dead-letter ids (see dlq list)', ids)
    .action((given: number[] | undefined, opts: { tenant: string; all?: boolean; queue?: string }) =>
      runOperation(opts.tenant, async (deps, principal) => {
        const { discarded } = await deadLettersDiscard(deps, principal, selection(given, opts))
        process.stdout.write(`discarded ${discarded} messages\n`)
        if (given && discarded < given.length) process.exitCode = EXIT_CODES.not_found
      }),
    )
}
