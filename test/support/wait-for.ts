import type { EventEmitter } from 'node:events'

/** An event after which the awaited condition may hold: `waitFor` checks again at once instead of at its next poll. */
export interface WakeOn {
  emitter: EventEmitter
  event: string
}

export interface WaitOptions {
  /** Default 15 s. */
  timeoutMs?: number
  /** Default 50 ms; a wake-up (`wakeOn`) checks sooner. */
  pollMs?: number
  wakeOn?: WakeOn
}

/**
 * Waits until `predicate` holds, checking it every `pollMs` and on every `wakeOn` event; throws after
 * `timeoutMs`, naming `what` was awaited.
 */
export async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, { timeoutMs = 15_000, pollMs = 50, wakeOn }: WaitOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        wakeOn?.emitter.off(wakeOn.event, done)
        resolve()
      }
      const timer = setTimeout(done, pollMs)
      wakeOn?.emitter.on(wakeOn.event, done)
    })
  }
}
