import { Type } from 'typebox'
import { REQUEST_STATES } from '../../notifier/request-listing.ts'
import type { RetryJob } from '../../notifier/retry-jobs.ts'
import { requestsBulkRetry } from '../../ops/requests-bulk-retry.ts'
import { requestsBulkRetryCancel } from '../../ops/requests-bulk-retry-cancel.ts'
import { requestsBulkRetryEstimate } from '../../ops/requests-bulk-retry-estimate.ts'
import { requestsBulkRetryList } from '../../ops/requests-bulk-retry-list.ts'
import { requestsBulkRetryShow } from '../../ops/requests-bulk-retry-show.ts'
import { routesOf } from '../endpoint.ts'
import { listingOf, pageView } from '../pagination.ts'
import { BusinessId, DateTime, iso, Nullable, PayloadField, RequestId, strict, type App, type RouteDeps } from '../schemas.ts'

/** The requests listing's filter (GET /requests), without its pagination. */
const FilterMembers = {
  state: Type.Optional(Type.Union(REQUEST_STATES.map((s) => Type.Literal(s)), { description: 'SUCCESS selects nothing: completed requests have nothing to retry' })),
  recipient: Type.Optional({ ...BusinessId, description: 'only the failures of this recipient (RULE_ERROR requests are then not rematched)' }),
  requestId: Type.Optional(RequestId),
  owner: Type.Optional(Type.String({ maxLength: 128 })),
  from: Type.Optional({ ...DateTime, description: 'request date ≥ from' }),
  to: Type.Optional({ ...DateTime, description: 'request date < to' }),
  ...PayloadField,
}
const Filter = strict(FilterMembers)

const JobState = Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('cancelled'), Type.Literal('failed')], { description: 'running until every selected request is retried (done), cancelled, or failed (the database refused its batches 5 times in a row)' })

const RetryJobView = Type.Object({
  id: Type.Integer(),
  state: JobState,
  filter: Type.Record(Type.String(), Type.String(), { description: 'the filter it was started with' }),
  total: Type.Integer({ description: 'requests it was expected to retry when it started' }),
  totalExact: Type.Boolean({ description: 'false: `total` is the planner\'s estimate (counting took over a second)' }),
  done: Type.Integer({ description: 'requests retried so far' }),
  deliveries: Type.Integer({ description: 'deliveries put back to PENDING so far' }),
  rematched: Type.Integer({ description: 'RULE_ERROR requests sent back to matching so far' }),
  taken: Type.Boolean({ description: 'a Herald notifier is running it (false: waiting to be taken, within a second)' }),
  startedBy: Nullable(Type.String()),
  role: Type.String(),
  createdAt: DateTime,
  updatedAt: DateTime,
  finishedAt: Nullable(DateTime),
  cancelledBy: Nullable(Type.String()),
  error: Nullable(Type.String({ description: 'the last error of a batch' })),
})

const Estimate = Type.Object({
  requests: Type.Integer({ description: 'requests with something to retry (a delivery in ERROR, or RULE_ERROR)' }),
  exact: Type.Boolean({ description: 'false: the planner\'s estimate, counting would have taken over a second' }),
})

const JobParams = strict({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) })

const jobView = (j: RetryJob) => ({
  id: j.id,
  state: j.state,
  filter: j.filter as Record<string, string>,
  total: j.estimate,
  totalExact: j.estimateExact,
  done: j.requests,
  deliveries: j.deliveries,
  rematched: j.rematched,
  taken: j.taken,
  startedBy: j.subject,
  role: j.role,
  createdAt: iso(j.createdAt)!,
  updatedAt: iso(j.updatedAt)!,
  finishedAt: iso(j.finishedAt),
  cancelledBy: j.cancelledBy,
  error: j.error,
})

/**
 * Bulk retry of everything a requests filter selects, as a job to follow and cancel. Under /retry-jobs
 * rather than /requests/retry-jobs: GET /requests/{requestId} would take a request whose id is "retry-jobs".
 */
export async function bulkRetryRoutes(app: App, { ctx }: RouteDeps): Promise<void> {
  const route = routesOf(app, 'requests')

  route.get(
    '/retry-jobs/estimate',
    {
      access: 'read',
      summary: 'How many requests a bulk retry of this filter would retry now (exact when counting takes under a second)',
      querystring: Filter,
      response: { 200: Estimate },
      problems: [400],
    },
    async (req) => requestsBulkRetryEstimate(ctx, req.principal, { filter: req.query }),
  )

  route.post(
    '/retry-jobs',
    {
      access: 'retry',
      summary: 'Start a bulk retry of everything the filter selects, in batches; follow it with GET /retry-jobs/{id}',
      description:
        'Requests registered after the start are not part of it. One job runs at a time per tenant: another start is answered 409 ' +
        'HERALD_ERR_RETRY_JOB_RUNNING with the running job\'s `jobId`.',
      body: strict({ filter: Filter }),
      response: { 202: RetryJobView },
      problems: [400, 409],
    },
    async (req, reply) => reply.code(202).send(jobView(await requestsBulkRetry(ctx, req.principal, { filter: req.body.filter }))),
  )

  route.get('/retry-jobs', { access: 'read', summary: 'The tenant\'s bulk retries, newest first', ...listingOf(RetryJobView, { state: Type.Optional(JobState) }) }, async (req) =>
    pageView(await requestsBulkRetryList(ctx, req.principal, req.query), jobView),
  )

  route.get('/retry-jobs/:id', { access: 'read', summary: 'One bulk retry and its progress', params: JobParams, response: { 200: RetryJobView }, problems: [400, 404] }, async (req) =>
    jobView(await requestsBulkRetryShow(ctx, req.principal, req.params)),
  )

  route.delete(
    '/retry-jobs/:id',
    {
      access: 'retry',
      summary: 'Cancel a bulk retry: no request is retried after the answer, whose counts are final (a job already over is answered as it is)',
      params: JobParams,
      response: { 200: RetryJobView },
      problems: [400, 404],
    },
    async (req) => jobView(await requestsBulkRetryCancel(ctx, req.principal, req.params)),
  )
}
