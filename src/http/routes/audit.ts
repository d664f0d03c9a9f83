import { Type } from 'typebox'
import { AUDIT_OUTCOME, AUDITED_ACTIONS, auditList, type AuditListItem } from '../../ops/audit-list.ts'
import { routesOf } from '../endpoint.ts'
import { listingOf, pageView } from '../pagination.ts'
import { DateTime, iso, Nullable, type App, type RouteDeps } from '../schemas.ts'

const AuditEntry = Type.Object({
  at: DateTime,
  tenant: Type.String(),
  subject: Nullable(Type.String({ description: 'the token’s sub, the console user, or cli:<os user>' })),
  role: Type.String({ description: 'ADMIN or EXPLOIT' }),
  action: Type.String({ description: 'an operator action of docs/api.md (requests.retry)' }),
  target: Nullable(Type.String({ description: 'what it acted on (request ids, a businessId)' })),
  outcome: Type.String({ description: 'ok, or the error code it was refused with' }),
  detail: Nullable(Type.String({ description: 'what a success did, or why it was refused' })),
})

const entryView = (e: AuditListItem) => ({ ...e, at: iso(e.at)! })

/** The audit trail of the token's tenant: every change and every refused change, whoever asked. */
export async function auditRoutes(app: App, { ctx }: RouteDeps): Promise<void> {
  const route = routesOf(app, 'audit')
  route.get(
    '/audit',
    {
      access: 'admin',
      summary: 'List the audit trail, newest first (ADMIN)',
      ...listingOf(AuditEntry, {
        action: Type.Optional(Type.Union(AUDITED_ACTIONS.map((a) => Type.Literal(a)))),
        subject: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
        target: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
        outcome: Type.Optional(Type.String({ pattern: AUDIT_OUTCOME.source, description: 'ok or an error code' })),
        since: Type.Optional({ ...DateTime, description: 'entries at or after' }),
        until: Type.Optional({ ...DateTime, description: 'entries before' }),
      }),
    },
    async (req) => {
      const { since, until, ...q } = req.query
      return pageView(await auditList(ctx, req.principal, { ...q, since: since ? new Date(since) : undefined, until: until ? new Date(until) : undefined }), entryView)
    },
  )
}
