import { ERR_FORBIDDEN } from '../errors.ts'

/** The two roles of a token, as in REGARDS: ADMIN changes things, EXPLOIT reads and retries. */
export type UserRole = 'ADMIN' | 'EXPLOIT'

/** What an operation may require. `read` and `retry`: ADMIN or EXPLOIT; `admin`: ADMIN only. */
export type Access = 'read' | 'retry' | 'admin'

/**
 * Who asks for an operation: a verified token's claims (REST, console) or the operator at the machine
 * (CLI, `subject` `cli:<os user>`). The tenant of an operation is always this one, never one of its input.
 */
export interface Principal {
  tenant: string
  role: UserRole
  subject: string | undefined
}

export function mayAccess(role: UserRole, access: Access): boolean {
  return access !== 'admin' || role === 'ADMIN'
}

/** Refuses an operation the principal's role does not allow (REST checks it per route first; the CLI and tests rely on this). */
export function authorize(principal: Pick<Principal, 'role'>, access: Access): void {
  if (!mayAccess(principal.role, access)) throw ERR_FORBIDDEN(`${principal.role} may not do this; it needs ADMIN`)
}
