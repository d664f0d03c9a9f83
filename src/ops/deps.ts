import type { Ctx } from '../context.ts'

/**
 * What the operations are given. A running Herald passes its context (REST, console); the CLI builds one
 * over the same database, whose signals reach the running instances through LISTEN/NOTIFY.
 */
export type OpsDeps = Pick<Ctx, 'db' | 'config' | 'log' | 'secrets' | 'signals' | 'broker'>
