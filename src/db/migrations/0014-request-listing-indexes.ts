import { sql, type Kysely } from 'kysely'

/**
 * Indexes of the requests listing (GET /api/v1/requests, the console), checked with EXPLAIN on 100,000
 * requests by test/requests-listing-plans.test.ts.
 * - The history grows with the retention period, while the live table holds only requests in progress:
 *   without an index a filter that few completed requests match walked the whole history by primary key
 *   to fill a page (44 ms for an owner of 0.1 % of 100,000 requests, growing with the history). History
 *   rows are written once and never updated: one insertion per index and request.
 * - A date range: a minute of requests was read by a Seq Scan of the live table and a walk of the history.
 *   The live index is the one paid at each state change of a request (every update there writes each
 *   index); owners are not indexed there, a walk of the requests in progress finds them.
 * - Failed deliveries (partial: only those): the bulk retry's count and batches (`exists … delivery in
 *   ERROR`) read the whole delivery table otherwise.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index request_history_owner on request_history (tenant, request_owner, id)`.execute(db)
  await sql`create index request_history_request_date on request_history (tenant, request_date)`.execute(db)
  await sql`create index notification_request_request_date on notification_request (tenant, request_date)`.execute(db)
  await sql`create index delivery_failed on delivery (request_pk) where state = 'ERROR'`.execute(db)
}
