import type { Db } from '../../db/client.ts'
import { readCounters } from '../counters.ts'

/**
 * The tenant's catalog anomaly counters (acks for unknown URNs or labels, duplicate or dead-lettered acks …).
 *
 * @example
 * await catalogCounters(db, 'project1') // { 'ack.unknown-urn': 2, 'ack.duplicate': 1 }
 */
export function catalogCounters(db: Db, tenant: string): Promise<Record<string, number>> {
  return readCounters(db, tenant)
}
