/**
 * Every operator action, with its REST route(s) and its CLI command: the one list both transports are
 * checked against (test/ops-actions.test.ts: each route is in the OpenAPI document, each command in the
 * CLI, and no REST operation or CLI command that changes something is missing here). `name` is how the
 * audit trail records the action (audit_entry.action).
 */
export interface OperatorAction {
  name: string
  /** Changes something: recorded in the audit trail, whoever asked and however it ended. */
  changes: boolean
  /** REST operations under /api/v1, as the OpenAPI document spells them (a bulk and a one-item form may both exist). */
  rest: { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string }[]
  /** The CLI command, words after `herald`. */
  cli: string
}

const GET = (path: string) => ({ method: 'GET' as const, path: `/api/v1${path}` })
const POST = (path: string) => ({ method: 'POST' as const, path: `/api/v1${path}` })
const PUT = (path: string) => ({ method: 'PUT' as const, path: `/api/v1${path}` })
const DELETE = (path: string) => ({ method: 'DELETE' as const, path: `/api/v1${path}` })

export const OPERATOR_ACTIONS: readonly OperatorAction[] = [
  { name: 'requests.list', changes: false, rest: [GET('/requests')], cli: 'requests list' },
  { name: 'requests.show', changes: false, rest: [GET('/requests/{requestId}')], cli: 'requests show' },
  { name: 'requests.retry', changes: true, rest: [POST('/requests/retry'), POST('/requests/{requestId}/retry')], cli: 'requests retry' },
  { name: 'requests.delete', changes: true, rest: [DELETE('/requests/{requestId}')], cli: 'requests delete' },
  { name: 'requests.decisions', changes: false, rest: [GET('/requests/{requestId}/decisions')], cli: 'requests decisions' },
  { name: 'requests.bulk-retry.estimate', changes: false, rest: [GET('/retry-jobs/estimate')], cli: 'requests bulk-retry estimate' },
  // Recorded once per job, when it ends (src/ops/requests-bulk-retry.ts), and at once when refused.
  { name: 'requests.bulk-retry', changes: true, rest: [POST('/retry-jobs')], cli: 'requests bulk-retry start' },
  { name: 'requests.bulk-retry.list', changes: false, rest: [GET('/retry-jobs')], cli: 'requests bulk-retry list' },
  { name: 'requests.bulk-retry.show', changes: false, rest: [GET('/retry-jobs/{id}')], cli: 'requests bulk-retry show' },
  { name: 'requests.bulk-retry.cancel', changes: true, rest: [DELETE('/retry-jobs/{id}')], cli: 'requests bulk-retry cancel' },

  { name: 'recipients.list', changes: false, rest: [GET('/recipients')], cli: 'recipients list' },
  { name: 'recipients.show', changes: false, rest: [GET('/recipients/{businessId}')], cli: 'recipients show' },
  { name: 'recipients.create', changes: true, rest: [POST('/recipients')], cli: 'recipients create' },
  { name: 'recipients.update', changes: true, rest: [PUT('/recipients/{businessId}')], cli: 'recipients update' },
  { name: 'recipients.delete', changes: true, rest: [DELETE('/recipients/{businessId}')], cli: 'recipients delete' },
  { name: 'recipients.activate', changes: true, rest: [POST('/recipients/{businessId}/activate')], cli: 'recipients activate' },
  { name: 'recipients.deactivate', changes: true, rest: [POST('/recipients/{businessId}/deactivate')], cli: 'recipients deactivate' },
  { name: 'recipients.park', changes: true, rest: [POST('/recipients/{businessId}/park')], cli: 'recipients park' },
  { name: 'recipients.unpark', changes: true, rest: [POST('/recipients/{businessId}/unpark')], cli: 'recipients unpark' },
  // Changes nothing in Herald, but reaches the outside with the recipient's secrets: audited like a change.
  { name: 'recipients.test', changes: true, rest: [POST('/recipients/{businessId}/test')], cli: 'recipients test' },

  { name: 'rules.list', changes: false, rest: [GET('/rules')], cli: 'rules list' },
  { name: 'rules.show', changes: false, rest: [GET('/rules/{businessId}')], cli: 'rules show' },
  { name: 'rules.create', changes: true, rest: [POST('/rules')], cli: 'rules create' },
  { name: 'rules.update', changes: true, rest: [PUT('/rules/{businessId}')], cli: 'rules update' },
  { name: 'rules.delete', changes: true, rest: [DELETE('/rules/{businessId}')], cli: 'rules delete' },
  { name: 'rules.test', changes: false, rest: [POST('/rules/test')], cli: 'rules test' },

  { name: 'configuration.export', changes: false, rest: [GET('/configuration')], cli: 'config export' },
  { name: 'configuration.import', changes: true, rest: [POST('/configuration')], cli: 'config import' },

  { name: 'dead-letters.list', changes: false, rest: [GET('/dead-letters')], cli: 'dlq list' },
  { name: 'dead-letters.show', changes: false, rest: [GET('/dead-letters/{id}')], cli: 'dlq show' },
  { name: 'dead-letters.replay', changes: true, rest: [POST('/dead-letters/replay'), POST('/dead-letters/{id}/replay')], cli: 'dlq replay' },
  { name: 'dead-letters.discard', changes: true, rest: [POST('/dead-letters/discard'), DELETE('/dead-letters/{id}')], cli: 'dlq discard' },

  { name: 'plugins.list', changes: false, rest: [GET('/plugins')], cli: 'plugins list' },
  { name: 'plugins.show', changes: false, rest: [GET('/plugins/{pluginId}')], cli: 'plugins show' },

  { name: 'overview.show', changes: false, rest: [GET('/overview')], cli: 'overview' },
  { name: 'completeness.show', changes: false, rest: [GET('/completeness')], cli: 'completeness' },
  { name: 'completeness.gap', changes: false, rest: [GET('/completeness/gap')], cli: 'completeness gap' },

  { name: 'audit.list', changes: false, rest: [GET('/audit')], cli: 'audit list' },

  { name: 'catalog.products', changes: false, rest: [GET('/products')], cli: 'catalog products' },
  { name: 'catalog.product', changes: false, rest: [GET('/products/{urn}')], cli: 'catalog product' },
  { name: 'catalog.requests', changes: false, rest: [GET('/catalog/requests')], cli: 'catalog requests' },
  { name: 'catalog.counters', changes: false, rest: [GET('/catalog/counters')], cli: 'catalog counters' },
  { name: 'catalog.retry', changes: true, rest: [POST('/catalog/requests/retry'), POST('/catalog/requests/{requestId}/retry')], cli: 'catalog retry' },
  { name: 'catalog.force-deletion', changes: true, rest: [POST('/products/{urn}/force-deletion')], cli: 'catalog force-deletion' },
  { name: 'catalog.disseminate', changes: true, rest: [POST('/products/{urn}/disseminate')], cli: 'catalog disseminate' },
  { name: 'catalog.create-aips', changes: true, rest: [POST('/catalog/aips')], cli: 'catalog create-aips' },
  { name: 'catalog.setting', changes: true, rest: [PUT('/catalog/settings/{name}')], cli: 'catalog setting' },
  // Set and clear are recorded; the status (GET) is a read of the same resource.
  { name: 'catalog.shovel.status', changes: false, rest: [GET('/catalog/shovels')], cli: 'catalog shovel status' },
  { name: 'catalog.shovel.set', changes: true, rest: [POST('/catalog/shovels')], cli: 'catalog shovel set' },
  { name: 'catalog.shovel.clear', changes: true, rest: [DELETE('/catalog/shovels/{name}')], cli: 'catalog shovel clear' },
]

export function operatorAction(name: string): OperatorAction {
  const action = OPERATOR_ACTIONS.find((a) => a.name === name)
  if (!action) throw new Error(`no operator action ${name} in src/ops/actions.ts`)
  return action
}
