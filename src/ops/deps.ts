import type { Ctx } from '../context.ts'
import type { ConfigCache } from '../notifier/tenant-config.ts'

/**
 * What the operations are given. A running Herald passes its context (REST, console); the CLI builds one
 * over the same database (src/cli/cli-deps.ts), whose signals reach the running instances through
 * LISTEN/NOTIFY and whose broker connection opens only when an operation publishes.
 */
export interface OpsDeps extends Pick<Ctx, 'db' | 'config' | 'log' | 'secrets' | 'signals' | 'broker'> {
  /** The tenant configuration in force (recipients, rules), and how to drop it after a change made here. */
  readonly configCache: Pick<ConfigCache, 'get' | 'invalidate'>
}
