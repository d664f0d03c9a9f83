import { Command, InvalidArgumentError } from 'commander'
import type { ReplayTarget } from '../dead-letters/replay.ts'
import { deadLettersDiscard } from '../ops/dead-letters-discard.ts'
import { deadLettersList } from '../ops/dead-letters-list.ts'
import { deadLettersReplay } from '../ops/dead-letters-replay.ts'
import type { DeadLetterSelection } from '../ops/dead-letters-selection.ts'
import { deadLettersShow } from '../ops/dead-letters-show.ts'
import { positiveInt, progressLine } from './output.ts'
import { EXIT_CODES, runOperation } from './run-operation.ts'
import { listingCommand, showCommand, tenantCommand } from './tenant-command.ts'

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

  listingCommand(tenantCommand(dlq, 'list', 'list dead letters, oldest first').option('--queue <queue>', 'only the messages of this queue (or DLQ)'), {
    noun: 'messages',
    defaultLimit: 100,
    header: ['ID', 'QUEUE', 'REQUEST ID', 'DEAD-LETTERED', 'REASON'],
    fetchPage: (deps, principal, opts: { queue?: string }, page) => deadLettersList(deps, principal, { queue: opts.queue, ...page }),
    toRow: (m) => [String(m.id), m.queue, m.requestId ?? '', (m.deadLetteredAt ?? m.collectedAt).toISOString(), (m.reason ?? '').slice(0, 100)],
  })

  showCommand(dlq, 'one dead letter (JSON): headers, properties and body (text, or base64 when it is not UTF-8)', { name: 'id', help: 'dead-letter id (see dlq list)', parse: positiveInt }, (deps, principal, id) =>
    deadLettersShow(deps, principal, { id }),
  )

  tenantCommand(dlq, 'replay', 're-inject dead letters with their original headers; each is removed once the broker confirmed it')
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

  tenantCommand(dlq, 'discard', 'discard dead letters for good')
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
