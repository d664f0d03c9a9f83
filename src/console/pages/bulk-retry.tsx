import { useEffect, useState } from 'preact/hooks'
import { api, query } from '../api.ts'
import { ErrorBox, Time } from '../ui.tsx'

export interface RetryJob {
  id: number
  state: 'running' | 'done' | 'cancelled' | 'failed'
  filter: Record<string, string>
  total: number
  totalExact: boolean
  done: number
  deliveries: number
  rematched: number
  taken: boolean
  startedBy: string | null
  createdAt: string
  finishedAt: string | null
  cancelledBy: string | null
  error: string | null
}

interface Estimate {
  requests: number
  exact: boolean
}

// A running job is read twice a second: a batch of 500 requests takes a fraction of a second.
const FOLLOW_MS = 500

const describe = (filter: Record<string, string | undefined>) => {
  const parts = Object.entries(filter).filter(([, v]) => v !== undefined && v !== '')
  return parts.length === 0 ? 'every request of the tenant' : parts.map(([k, v]) => `${k} = ${v}`).join(', ')
}

/**
 * "Retry everything this filter selects": the count first (exact, or the planner's estimate, said so),
 * then a job followed to its end, with a cancel button. A job already running (started from another tab
 * or by someone else) is shown on arrival.
 */
export function BulkRetry(props: { filter: Record<string, string | undefined> }) {
  const [estimate, setEstimate] = useState<Estimate>()
  const [job, setJob] = useState<RetryJob>()
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)
  const filterKey = JSON.stringify(props.filter)

  useEffect(() => {
    setEstimate(undefined)
  }, [filterKey])
  useEffect(() => {
    api<{ items: RetryJob[] }>('/retry-jobs?state=running&limit=1').then((page) => page.items[0] && setJob(page.items[0]), setError)
  }, [])
  useEffect(() => {
    if (job?.state !== 'running') return
    const timer = setTimeout(() => api<RetryJob>(`/retry-jobs/${job.id}`).then(setJob, setError), FOLLOW_MS)
    return () => clearTimeout(timer)
  }, [job])

  const act = (run: () => Promise<void>) => async () => {
    setBusy(true)
    setError(undefined)
    try {
      await run()
    } catch (e) {
      setError(e)
    } finally {
      setBusy(false)
    }
  }
  const count = act(async () => setEstimate(await api<Estimate>(`/retry-jobs/estimate${query(props.filter)}`)))
  const start = act(async () => {
    setJob(await api<RetryJob>('/retry-jobs', { method: 'POST', body: { filter: Object.fromEntries(Object.entries(props.filter).filter(([, v]) => v)) } }))
    setEstimate(undefined)
  })
  const cancel = act(async () => setJob(await api<RetryJob>(`/retry-jobs/${job!.id}`, { method: 'DELETE' })))
  const running = job?.state === 'running'

  return (
    <section class="bulk" aria-label="Bulk retry">
      {!running && !estimate && (
        <button type="button" onClick={count} disabled={busy}>
          Retry everything this filter selects…
        </button>
      )}
      {!running && estimate && (
        <div class="panel" role="group" aria-label="Bulk retry confirmation">
          <p role="status">
            {estimate.requests === 0 ? (
              <>Nothing to retry: no request selected by {describe(props.filter)} has a failed delivery or a rule error.</>
            ) : (
              <>
                <strong>
                  {estimate.exact ? '' : 'About '}
                  {estimate.requests} request{estimate.requests === 1 ? '' : 's'}
                </strong>{' '}
                selected by {describe(props.filter)} will be retried ({estimate.exact ? 'exact count' : 'the database’s estimate: counting would take over a second'}).
              </>
            )}
          </p>
          <div class="actions">
            {estimate.requests > 0 && (
              <button type="button" onClick={start} disabled={busy}>
                Start the retry
              </button>
            )}
            <button type="button" class="secondary" onClick={() => setEstimate(undefined)}>
              Close
            </button>
          </div>
        </div>
      )}
      {job && <JobProgress job={job} onCancel={running ? cancel : undefined} busy={busy} onClose={running ? undefined : () => setJob(undefined)} />}
      <ErrorBox error={error} />
    </section>
  )
}

function JobProgress(props: { job: RetryJob; busy: boolean; onCancel?: () => void; onClose?: () => void }) {
  const j = props.job
  const max = Math.max(j.total, j.done, 1)
  const counts = `${j.done} of ${j.totalExact ? '' : 'about '}${j.total} request${j.total === 1 ? '' : 's'} retried (${j.deliveries} deliveries, ${j.rematched} rematched)`
  const label =
    j.state === 'running'
      ? `Bulk retry ${j.id} running${j.taken ? '' : ', waiting for a Herald notifier to take it'}: ${counts}`
      : j.state === 'done'
        ? `Bulk retry ${j.id} done: ${counts}`
        : j.state === 'cancelled'
          ? `Bulk retry ${j.id} cancelled${j.cancelledBy ? ` by ${j.cancelledBy}` : ''}: ${counts}; the others were left as they were`
          : `Bulk retry ${j.id} failed: ${counts}`
  return (
    <div class="panel" role="group" aria-label={`Bulk retry ${j.id}`}>
      <p role="status" aria-live="polite">
        {label}
      </p>
      <progress max={max} value={j.state === 'done' ? max : j.done} aria-label={`Progress of bulk retry ${j.id}`} />
      <p class="muted">
        Filter: {describe(j.filter)} · started by {j.startedBy ?? 'an unnamed subject'} <Time value={j.createdAt} />
        {j.finishedAt && (
          <>
            {' '}
            · ended <Time value={j.finishedAt} />
          </>
        )}
      </p>
      {j.error && <p class="error-text">{j.error}</p>}
      <div class="actions">
        {props.onCancel && (
          <button type="button" class="danger" onClick={props.onCancel} disabled={props.busy}>
            Cancel the retry
          </button>
        )}
        {props.onClose && (
          <button type="button" class="secondary" onClick={props.onClose}>
            Close
          </button>
        )}
      </div>
    </div>
  )
}
