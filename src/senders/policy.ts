import { Type } from 'typebox'
import { P } from '../plugins/declaration.ts'
import { checkParameters } from '../plugins/validate-parameters.ts'
import type { Parameters } from './sender.ts'

/**
 * How Herald delivers to one recipient. Every field can be set per recipient with a plugin parameter of
 * the same name; REGARDS configurations, which have none of them, get the defaults.
 */
export interface DeliveryPolicy {
  /** Attempts before a delivery counts as failed (ERROR in the completion event). */
  maxAttempts: number
  /** Backoff before attempt n+1: min(retryMaxDelayMs, retryInitialDelayMs · 2^(n-1)), ±25 % jitter. */
  retryInitialDelayMs: number
  retryMaxDelayMs: number
  /** Largest batch handed to the sender at once. */
  batchSize: number
  /** Batches of this recipient being sent at the same time. */
  maxBatchesInFlight: number
  /** Consecutive failed attempts after which the recipient is parked (its deliveries wait). */
  parkAfterFailures: number
  /** While parked, one delivery is tried this often; a success un-parks the recipient. */
  probeIntervalMs: number
  /** Deliveries per second to this recipient, per instance (token bucket); 0 = no limit. */
  ratePerSecond: number
}

export const DEFAULT_POLICY: DeliveryPolicy = Object.freeze({
  maxAttempts: 5,
  retryInitialDelayMs: 1000,
  retryMaxDelayMs: 5 * 60_000,
  batchSize: 200,
  maxBatchesInFlight: 2,
  parkAfterFailures: 10,
  probeIntervalMs: 30_000,
  ratePerSecond: 0,
})

const positive = (description: string, name: keyof DeliveryPolicy, label: string) =>
  P.optional(P.integer(description, { label, minimum: 1, default: DEFAULT_POLICY[name] }))

/** The delivery policy's parameters, part of every sender's declaration (Herald only). */
export const POLICY_PARAMETERS = {
  maxAttempts: positive('Attempts before a delivery is in ERROR; 1 = no automatic retry.', 'maxAttempts', 'Attempts'),
  retryInitialDelayMs: positive('Wait before attempt 2; attempt n+1 waits min(retryMaxDelayMs, retryInitialDelayMs · 2^(n-1)), ±25 % jitter.', 'retryInitialDelayMs', 'First retry delay (ms)'),
  retryMaxDelayMs: positive('Ceiling of the wait between attempts.', 'retryMaxDelayMs', 'Longest retry delay (ms)'),
  // No default here: HERALD_DELIVERY_BATCH_SIZE is the default (25 unless set).
  batchSize: P.optional(P.integer('Largest batch handed to the sender at once; default HERALD_DELIVERY_BATCH_SIZE (25).', { label: 'Batch size', minimum: 1 })),
  maxBatchesInFlight: positive('Batches of this recipient being sent at the same time.', 'maxBatchesInFlight', 'Batches in flight'),
  parkAfterFailures: positive('Consecutive failed attempts after which the recipient is parked (its deliveries wait).', 'parkAfterFailures', 'Park after failures'),
  probeIntervalMs: positive('While parked, one delivery is tried this often; a success un-parks the recipient.', 'probeIntervalMs', 'Probe interval (ms)'),
  ratePerSecond: P.optional(P.integer('Deliveries per second to this recipient, per instance; 0 = no limit.', { label: 'Rate limit (/s)', minimum: 0, default: 0 })),
}

const POLICY = { pluginId: 'delivery policy', parameters: Type.Object(POLICY_PARAMETERS) }
const NAMES = Object.keys(POLICY_PARAMETERS) as (keyof DeliveryPolicy)[]

/** The recipient's policy: its valid policy parameters over `defaults` over {@link DEFAULT_POLICY}. */
export function policyFrom(params: Parameters, defaults: Partial<DeliveryPolicy> = {}): DeliveryPolicy {
  const { values } = checkParameters(POLICY, params, 'ignore')
  const given = NAMES.filter((name) => params[name] !== undefined && params[name] !== null && params[name] !== '' && (values as DeliveryPolicy)[name] !== undefined)
  return { ...DEFAULT_POLICY, ...defaults, ...Object.fromEntries(given.map((name) => [name, (values as DeliveryPolicy)[name]])) }
}
