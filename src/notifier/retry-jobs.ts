import { sql } from 'kysely'
import type { Db } from '../db/client.ts'
import { ERR_RETRY_JOB_RUNNING } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { Signals } from '../context.ts'
import { findPlugin } from './plugin-configurations.ts'
import { requestConditions, type RequestFilter } from './request-listing.ts'
import { retryableRequests, retryBatch, type RetryScope } from './retry-requests.ts'
import { WakeLoop } from '../wake-loop.ts'

/**
 * Bulk retries by filter ("retry everything this filter selects"), run as jobs whose state is a row of
 * `retry_job`: the job retries, in batches of one transaction each, the requests of the filter that have
 * something to retry, walking their ids upwards from `after_id` to `up_to_id` (the newest request when it
 * started). Every instance sees its progress and its cancellation; an instance that stops or dies leaves
 * it to another (or to itself after a restart), which goes on from `after_id`.
 */
export type RetryJobState = 'running' | 'done' | 'cancelled' | 'failed'

/** The listing's filter as stored with the job (dates as ISO-8601). */
export type RetryJobFilter = Omit<RequestFilter, 'from' | 'to'> & { from?: string; to?: string }

export interface RetryJob {
  id: number
  tenant: string
  filter: RetryJobFilter
  state: RetryJobState
  estimate: number
  estimateExact: boolean
  requests: number
  deliveries: number
  rematched: number
  subject: string | null
  role: string
  createdAt: Date
  updatedAt: Date
  finishedAt: Date | null
  cancelledBy: string | null
  error: string | null
  /** A runner holds it (false: waiting to be taken, at most a second where a notifier runs). */
  taken: boolean
}

interface JobRow {
  id: number
  tenant: string
  filter: RetryJobFilter
  state: RetryJobState
  estimate: number
  estimate_exact: boolean
  up_to_id: number
  after_id: number
  requests: number
  deliveries: number
  rematched: number
  subject: string | null
  role: string
  created_at: Date
  updated_at: Date
  finished_at: Date | null
  cancelled_by: string | null
  error: string | null
  failures: number
  runner: string | null
}

const toJob = (row: JobRow): RetryJob => ({
  id: row.id,
  tenant: row.tenant,
  filter: row.filter,
  state: row.state,
  estimate: row.estimate,
  estimateExact: row.estimate_exact,
  requests: row.requests,
  deliveries: row.deliveries,
  rematched: row.rematched,
  subject: row.subject,
  role: row.role,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  finishedAt: row.finished_at,
  cancelledBy: row.cancelled_by,
  error: row.error,
  taken: row.runner !== null,
})

const COLUMNS = sql`id, tenant, filter, state, estimate, estimate_exact, up_to_id, after_id, requests, deliveries, rematched,
  subject, role, created_at, updated_at, finished_at, cancelled_by, error, failures, runner`

const asFilter = (f: RetryJobFilter): RequestFilter => ({ ...f, from: f.from ? new Date(f.from) : undefined, to: f.to ? new Date(f.to) : undefined })

/** What the filter selects to retry; undefined when it cannot select anything (completed requests, an unknown recipient). */
async function scopeOf(db: Db, tenant: string, filter: RetryJobFilter, upToId?: number): Promise<RetryScope | undefined> {
  if (filter.state === 'SUCCESS') return undefined
  let recipientId: number | undefined
  if (filter.recipient !== undefined) {
    const recipient = await findPlugin(db, tenant, 'RECIPIENT', filter.recipient)
    if (!recipient) return undefined
    recipientId = recipient.id
  }
  const { recipient: _recipient, ...rest } = asFilter(filter)
  return { recipientId, conditions: requestConditions('r', tenant, rest), upToId }
}

// Counted exactly when the count takes less than this; otherwise the planner's estimate is given, said to be one.
const EXACT_COUNT_MS = 1000

export interface RetryEstimate {
  requests: number
  exact: boolean
}

/** How many requests a bulk retry of this filter would retry now. */
export async function estimateRetry(db: Db, tenant: string, filter: RetryJobFilter): Promise<RetryEstimate> {
  const scope = await scopeOf(db, tenant, filter)
  if (!scope) return { requests: 0, exact: true }
  const where = retryableRequests(tenant, scope)
  try {
    return await db.transaction().execute(async (tx) => {
      await sql`set local statement_timeout = ${sql.lit(EXACT_COUNT_MS)}`.execute(tx)
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from notification_request r where ${where}`.execute(tx)
      return { requests: rows[0].n, exact: true }
    })
  } catch (err) {
    if ((err as { code?: unknown }).code !== '57014') throw err // query_canceled: the statement timeout
  }
  const { rows } = await sql<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>`explain (format json) select 1 from notification_request r where ${where}`.execute(db)
  return { requests: Math.round(rows[0]['QUERY PLAN'][0].Plan['Plan Rows']), exact: false }
}

/** Starts a job (it runs as soon as a runner takes it); refused while another one of the tenant runs. */
export async function createRetryJob(db: Db, tenant: string, filter: RetryJobFilter, who: { subject: string | undefined; role: string }): Promise<RetryJob> {
  const estimate = await estimateRetry(db, tenant, filter)
  try {
    const { rows } = await sql<JobRow>`insert into retry_job (tenant, filter, state, estimate, estimate_exact, up_to_id, subject, role)
      values (${tenant}, ${JSON.stringify(filter)}::jsonb, 'running', ${estimate.requests}, ${estimate.exact},
        (select coalesce(max(id), 0) from notification_request where tenant = ${tenant}), ${who.subject ?? null}, ${who.role})
      returning ${COLUMNS}`.execute(db)
    return toJob(rows[0])
  } catch (err) {
    if ((err as { code?: unknown }).code !== '23505') throw err // unique_violation of retry_job_running
    const { rows } = await sql<{ id: number }>`select id from retry_job where tenant = ${tenant} and state = 'running'`.execute(db)
    const running = rows[0]?.id
    throw ERR_RETRY_JOB_RUNNING(
      running === undefined ? 'another bulk retry started at the same moment' : `bulk retry ${running} is still running: wait for it to end or cancel it`,
      { jobId: running ?? null },
    )
  }
}

export async function getRetryJob(db: Db, tenant: string, id: number): Promise<RetryJob | undefined> {
  const { rows } = await sql<JobRow>`select ${COLUMNS} from retry_job where tenant = ${tenant} and id = ${id}`.execute(db)
  return rows[0] && toJob(rows[0])
}

/** One page (`limit + 1` rows) of the tenant's jobs, newest first, below `beforeId`. */
export async function listRetryJobs(db: Db, tenant: string, filter: { state?: RetryJobState }, limit: number, beforeId?: number): Promise<RetryJob[]> {
  const { rows } = await sql<JobRow>`select ${COLUMNS} from retry_job where tenant = ${tenant}
      ${beforeId !== undefined ? sql`and id < ${beforeId}` : sql``}
      ${filter.state !== undefined ? sql`and state = ${filter.state}` : sql``}
    order by id desc limit ${limit + 1}`.execute(db)
  return rows.map(toJob)
}

/**
 * Cancels a running job. It waits for the batch in progress (its transaction holds the job's row): once
 * this returns, no further request is retried, and the counts are final. A job already over is returned as it is.
 */
export async function cancelRetryJob(db: Db, tenant: string, id: number, by: string | undefined): Promise<{ job: RetryJob; cancelled: boolean } | undefined> {
  const { rows } = await sql<JobRow>`update retry_job set state = 'cancelled', cancelled_by = ${by ?? null}, finished_at = now(), updated_at = now(),
      runner = null, heartbeat_at = null
    where tenant = ${tenant} and id = ${id} and state = 'running' returning ${COLUMNS}`.execute(db)
  if (rows[0]) return { job: toJob(rows[0]), cancelled: true }
  const job = await getRetryJob(db, tenant, id)
  return job && { job, cancelled: false }
}

export interface RetryJobRunnerOptions {
  db: Db
  log: Logger
  signals: Signals
  instanceId: string
  batchSize: number
  /** A job reached its end here (done, or failed): the audit trail records it. */
  onEnd: (job: RetryJob) => Promise<void>
}

// Each runner looks for a job to take once a second: a started job begins within a second.
const POLL_MS = 1000
// A runner commits a batch (and its heartbeat) every fraction of a second; a job whose runner has not for
// 30 s is taken over (the runner died or lost the database).
const ABANDONED_AFTER_S = 30
// Between two batches, the delivery workers and the intake get the rows and the connections back.
const PAUSE_MS = 50
// A job whose batches fail this many times in a row (the database refuses them) ends `failed`.
const MAX_FAILURES = 5

/** Takes jobs nobody runs (new, or abandoned) and runs them, one at a time per process. */
export class RetryJobRunner {
  readonly #o: RetryJobRunnerOptions
  readonly #loop: WakeLoop

  constructor(options: RetryJobRunnerOptions) {
    this.#o = options
    this.#loop = new WakeLoop({
      name: 'bulk retry runner',
      log: options.log,
      pass: async () => {
        await this.#takeAndRun()
        return POLL_MS
      },
    })
  }

  start(): void {
    this.#loop.start()
  }

  /** Ends after the batch in progress; the job is left to be taken again at once. */
  stop(): Promise<void> {
    return this.#loop.stop()
  }

  async #ended(job: RetryJob): Promise<void> {
    await this.#o.onEnd(job).catch((err: unknown) => this.#o.log.error({ err, job: job.id, tenant: job.tenant }, 'could not record the end of a bulk retry'))
  }

  async #takeAndRun(): Promise<void> {
    const { db, instanceId } = this.#o
    const { rows } = await sql<JobRow>`update retry_job set runner = ${instanceId}, heartbeat_at = now()
      where id = (select id from retry_job where state = 'running'
          and (runner is null or heartbeat_at < now() - make_interval(secs => ${ABANDONED_AFTER_S}))
        order by id limit 1 for update skip locked)
      returning ${COLUMNS}`.execute(db)
    if (rows[0]) await this.#run(rows[0])
  }

  async #run(job: JobRow): Promise<void> {
    const { db, signals, instanceId, batchSize, log } = this.#o
    const scope = await scopeOf(db, job.tenant, job.filter, job.up_to_id)
    for (;;) {
      if (this.#loop.stopped) {
        await sql`update retry_job set runner = null, heartbeat_at = null where id = ${job.id} and runner = ${instanceId}`.execute(db)
        return
      }
      let step: { ended: JobRow | undefined; retried: number; over: boolean }
      try {
        step = await db.transaction().execute(async (tx) => {
          const { rows } = await sql<JobRow>`select ${COLUMNS} from retry_job where id = ${job.id} for update`.execute(tx)
          const current = rows[0]
          // Cancelled, or taken over by another runner meanwhile.
          if (!current || current.state !== 'running' || current.runner !== instanceId) return { ended: undefined, retried: 0, over: true }
          const batch = scope ? await retryBatch(tx, job.tenant, scope, current.after_id, batchSize) : undefined
          const last = !batch || batch.requests < batchSize
          const { rows: updated } = await sql<JobRow>`update retry_job set
              after_id = ${batch?.lastId ?? current.after_id}, requests = requests + ${batch?.requests ?? 0},
              deliveries = deliveries + ${batch?.deliveries ?? 0}, rematched = rematched + ${batch?.rematched ?? 0},
              failures = 0, updated_at = now(),
              ${last ? sql`state = 'done', finished_at = now(), runner = null, heartbeat_at = null` : sql`heartbeat_at = now()`}
            where id = ${job.id} returning ${COLUMNS}`.execute(tx)
          return { ended: last ? updated[0] : undefined, retried: batch?.requests ?? 0, over: last }
        })
      } catch (err) {
        const { rows } = await sql<JobRow>`update retry_job set failures = failures + 1, error = ${String((err as Error).message ?? err).slice(0, 2000)},
            runner = null, heartbeat_at = null, updated_at = now(),
            state = case when failures + 1 >= ${MAX_FAILURES} then 'failed' else state end,
            finished_at = case when failures + 1 >= ${MAX_FAILURES} then now() else finished_at end
          where id = ${job.id} and state = 'running' returning ${COLUMNS}`.execute(db)
        log.warn({ err, job: job.id, tenant: job.tenant }, 'a bulk retry batch failed; the job is taken again')
        if (rows[0]?.state === 'failed') await this.#ended(toJob(rows[0]))
        return
      }
      if (step.retried > 0) {
        signals.deliveries()
        signals.outbox()
      }
      if (step.ended) await this.#ended(toJob(step.ended))
      if (step.over) return
      await new Promise((resolve) => setTimeout(resolve, PAUSE_MS))
    }
  }
}
