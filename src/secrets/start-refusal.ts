import { StartupError } from '../startup/wait-until-reachable.ts'

/**
 * Herald will not start as configured, for a reason the operator fixes (a file mode, a key): `herald start`
 * prints the message as one log line and exits 1, without a stack trace (as for any StartupError).
 */
export class StartRefusal extends StartupError {
  override name = 'StartRefusal'
}
