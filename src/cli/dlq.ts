import { Command, InvalidArgumentError } from 'commander'
import { Broker } from '../amqp/broker.ts'
import { createLogger } from '../log.ts'
import { runAdmin, withAdminDatabase } from './admin-database.ts'
import { positiveInt, printListing, progressLine } from './output.ts'
import { encodeCursor, decodeCursor } from '../ops/page.ts'
import { replayDeadLetters, type ReplayTarget } from '../dead-letters/replay.ts'
import { listDeadLetters } from '../dead-letters/store.ts'

/**
 * `herald dlq list|replay`: the dead letters the collector moved out of the `<queue>.DLQ` queues (it runs
 * with the http role). Without --tenant, every tenant's messages (and those without a tenant header).
 */
export function registerDlqCommands(program: Command): void {
  const dlq = program.command('dlq').description('dead-lettered messages: list, replay')

  dlq
    .command('list')
    .description('list dead letters, oldest first')
    .option('--tenant <tenant>', 'only this tenant (default: every tenant)')
    .option('--queue <queue>', 'only the messages of this queue (or DLQ)')
    .option('--limit <n>', 'at most n messages', positiveInt, 100)
    .option('--json', 'one JSON object per line')
    .action((opts: { tenant?: string; queue?: string; limit: number; json?: boolean }) =>
      runAdmin(() =>
        withAdminDatabase(async (db) => {
          const filter = { tenant: opts.tenant ?? null, queue: opts.queue }
          await printListing({
            limit: opts.limit,
            json: opts.json,
            header: ['ID', 'TENANT', 'QUEUE', 'REQUEST ID', 'DEAD-LETTERED', 'REASON'],
            fetchPage: async (limit, cursor) => {
              const rows = await listDeadLetters(db, filter, limit, decodeCursor(cursor, ['number'])?.[0] ?? 0)
              return { items: rows.slice(0, limit), nextCursor: rows.length > limit ? encodeCursor([rows[limit - 1].id]) : undefined }
            },
            toJson: (m) => m,
            toRow: (m) => [String(m.id), m.tenant ?? '-', m.queue, m.requestId ?? '', (m.deadLetteredAt ?? m.collectedAt).toISOString(), (m.reason ?? '').slice(0, 100)],
          })
        }),
      ),
    )

  dlq
    .command('replay')
    .description('re-inject dead letters with their original headers; each is removed once the broker confirmed it')
    .option('--tenant <tenant>', 'only this tenant (default: every tenant)')
    .option('--queue <queue>', 'with --all: only the messages of this queue')
    .option('--all', 'every dead letter (of the tenant / queue)')
    .option('--target <target>', 'queue: back to the queue it failed in (default); exchange: to its original exchange (every bound queue)', (v) => {
      if (v !== 'queue' && v !== 'exchange') throw new InvalidArgumentError('queue or exchange')
      return v as ReplayTarget
    })
    .argument('[ids...]', 'dead-letter ids (see dlq list)')
    .action((ids: string[], opts: { tenant?: string; queue?: string; all?: boolean; target?: ReplayTarget }) =>
      runAdmin(() =>
        withAdminDatabase(async (db, config) => {
          if (!!opts.all === (ids.length > 0)) throw new InvalidArgumentError('give either --all or ids')
          const numericIds = ids.map((id) => positiveInt(id))
          const broker = new Broker(config.amqpUrl, config.instanceName, createLogger('silent'), config.amqpHosts)
          try {
            await broker.connection.onConnect(10_000, true)
            const progress = progressLine()
            const outcome = await replayDeadLetters(db, broker.connection, { tenant: opts.tenant ?? null, queue: opts.queue }, opts.all ? undefined : numericIds, opts.target, (n) =>
              progress.update(`replayed ${n} messages…`),
            )
            progress.done(`replayed ${outcome.replayed.length} messages${outcome.missing.length > 0 ? `; not found: ${outcome.missing.join(', ')}` : ''}`)
            if (outcome.missing.length > 0) process.exitCode = 1
          } finally {
            await broker.close()
          }
        }),
      ),
    )
}
