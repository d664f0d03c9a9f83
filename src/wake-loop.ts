import type { Logger } from './log.ts'
import { backoffDelay, TRANSIENT_BACKOFF } from './retry.ts'

export interface WakeLoopOptions {
  /** Names the loop in the line of a failed pass: `<name> failed, will retry`. */
  name: string
  log: Logger
  /**
   * One pass over the work. Returns how long to sleep before the next pass when nothing wakes the loop: the
   * poll, the safety net for work nobody announced (another instance's); 0 for at once.
   */
  pass: () => Promise<number>
}

/**
 * The loop of a worker that sleeps between passes and is woken when there is new work: the delivery
 * worker, the outbox relay, the catalog worker, the bulk retry runner. A `notify()` during a pass is kept (the next pass starts at
 * once), so a wake-up is never lost between a pass's last look and its sleep. A pass that throws is logged
 * and the next one waits a backoff (retry.ts), which a `notify()` cuts short: new work means the database
 * answers again.
 *
 * @example
 * const loop = new WakeLoop({ name: 'outbox relay', log, pass: async () => ((await relayOnce()) > 0 ? 0 : 500) })
 * loop.start()
 * loop.notify() // rows were committed
 * await loop.stop()
 */
export class WakeLoop {
  readonly #opts: WakeLoopOptions
  #wake: (() => void) | undefined
  #notified = false
  #stopped = false
  #running: Promise<void> | undefined

  constructor(opts: WakeLoopOptions) {
    this.#opts = opts
  }

  start(): void {
    this.#running ??= this.#run()
  }

  /** There is new work: the loop passes again at once, or right after the pass in progress. */
  notify(): void {
    this.#notified = true
    this.#wake?.()
  }

  /** A `notify()` came during the pass in progress: a pass may skip what it does only before sleeping. */
  get notified(): boolean {
    return this.#notified
  }

  get stopped(): boolean {
    return this.#stopped
  }

  /** Ends the sleep at once, then waits for the pass in progress. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#wake?.()
    await this.#running
  }

  async #run(): Promise<void> {
    for (let failures = 0; !this.#stopped; ) {
      this.#notified = false
      let sleepMs: number
      try {
        sleepMs = await this.#opts.pass()
        failures = 0
      } catch (err) {
        this.#opts.log.warn({ err, failures }, `${this.#opts.name} failed, will retry`)
        sleepMs = backoffDelay(failures++, TRANSIENT_BACKOFF)
      }
      if (this.#notified || this.#stopped || sleepMs <= 0) continue
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, sleepMs)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = undefined
    }
  }
}
