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

export const POLICY_PARAMETERS = Object.keys(DEFAULT_POLICY) as (keyof DeliveryPolicy)[]

/** The recipient's policy; invalid values are reported by {@link validatePolicy}, not silently replaced. */
export function policyFrom(params: Parameters, defaults: Partial<DeliveryPolicy> = {}): DeliveryPolicy {
  const policy = { ...DEFAULT_POLICY, ...defaults }
  for (const name of POLICY_PARAMETERS) {
    const value = params[name]
    if (value !== undefined && value !== null && value !== '' && Number.isInteger(Number(value)) && Number(value) > 0) {
      policy[name] = Number(value)
    }
  }
  return policy
}

export function validatePolicy(params: Parameters): string[] {
  const errors: string[] = []
  for (const name of POLICY_PARAMETERS) {
    const value = params[name]
    if (value === undefined || value === null || value === '') continue
    if (!Number.isInteger(Number(value)) || Number(value) <= 0) errors.push(`parameter ${name} must be a positive integer, got ${JSON.stringify(value)}`)
  }
  return errors
}
