import { randomUUID } from 'node:crypto'
import type { AsyncMessage, Consumer } from 'rabbitmq-client'
import type { Logger } from '../log.ts'
import { backoffDelay, isRetryable, sleep, TRANSIENT_BACKOFF } from '../retry.ts'
import type { Broker } from './broker.ts'
import { DLX, declareConsumerTopology, dedicatedDlq, regardsQueueArguments } from './topology.ts'

/**
 * What the batch handler decided for one message: acked, dead-lettered, or handed to the handler again
 * (its effect was not committed; the others' were and are settled at once, never handed again).
 */
export type MessageOutcome = { ack: true } | { deadLetter: string } | { retry: unknown }

type Settled = Exclude<MessageOutcome, { retry: unknown }>

export type BatchHandler = (messages: AsyncMessage[]) => Promise<MessageOutcome[]>

export interface BatchConsumerOptions {
  /** The fanout exchange the queue is bound to. */
  exchange: string
  queue: string
  /** Largest batch handed to the handler. */
  batchSize: number
  /** The AMQP prefetch: two batches, so that the next one fills while one is being handled (unless a memory bound lowers it). */
  prefetch: number
  handler: BatchHandler
  /** The consumer binds `queue` to it: its lines carry the queue's name. */
  log: Logger
  /**
   * Where dead letters go: `<queue>.DLQ` by default; REGARDS declares a few handlers' queues with the
   * global `regards.DLQ`, and a re-declaration must keep that or the broker refuses it.
   */
  deadLetterRoutingKey?: string
  /** Called when a message is dead-lettered, for metrics. */
  onDeadLetter?: (reason: string) => void
}

interface Pending {
  msg: AsyncMessage
  resolve: () => void
  reject: (err: unknown) => void
}

const MESSAGE_ATTEMPTS = 3
// A message that could not be dead-lettered is requeued after this pause (it comes back at once otherwise).
const DEAD_LETTER_RETRY_MS = 1000

/**
 * Consumes a queue in batches with group commit: while one batch is being processed, the next one
 * accumulates (up to `batchSize`), so latency stays at one transaction under light load and batches grow
 * under heavy load. Messages are acked only after the handler resolved, i.e. after its transaction
 * committed. A batch that fails is retried (only its messages the handler handed back, when it committed the
 * others: `retry`); if it keeps failing, its messages are retried one by one and a
 * message that still fails is dead-lettered to `<queue>.DLQ` with `x-exception-message`, so one bad
 * message never holds back the others.
 */
export class BatchConsumer {
  readonly #opts: BatchConsumerOptions
  readonly #broker: Broker
  #consumer: Consumer | undefined
  #buffer: Pending[] = []
  #running = false
  #idle: Promise<void> = Promise.resolve()

  constructor(broker: Broker, opts: BatchConsumerOptions) {
    this.#broker = broker
    this.#opts = { ...opts, log: opts.log.child({ queue: opts.queue }) }
  }

  async start(): Promise<void> {
    const { exchange, queue, prefetch, log } = this.#opts
    await declareConsumerTopology(this.#broker.connection, exchange, queue, this.#deadLetterRoutingKey)
    this.#consumer = this.#broker.connection.createConsumer(
      {
        queue,
        // Declared again by rabbitmq-client after every reconnection (a broker restart).
        queueOptions: { durable: true, arguments: regardsQueueArguments(this.#deadLetterRoutingKey) },
        exchanges: [{ exchange, type: 'fanout', durable: true }],
        queueBindings: [{ queue, exchange, routingKey: '' }],
        qos: { prefetchCount: prefetch },
        concurrency: prefetch,
        requeue: true,
        lazy: true,
      },
      (msg) => new Promise<void>((resolve, reject) => {
        this.#buffer.push({ msg, resolve, reject })
        this.#kick()
      }),
    )
    this.#consumer.on('error', (err) => log.warn({ err }, 'consumer error'))
    this.#consumer.on('ready', () => log.info('consuming'))
    this.#consumer.start()
  }

  #kick(): void {
    if (this.#running || this.#buffer.length === 0) return
    this.#running = true
    this.#idle = new Promise<void>((done) => {
      // setImmediate lets the messages of one incoming burst join the same batch.
      setImmediate(async () => {
        while (this.#buffer.length > 0) {
          const batch = this.#buffer.splice(0, this.#opts.batchSize)
          await this.#process(batch)
        }
        this.#running = false
        done()
      })
    })
  }

  async #process(batch: Pending[]): Promise<void> {
    const { log } = this.#opts
    let pending = batch
    for (let attempt = 0; ; attempt++) {
      const { retry, err } = await this.#handle(pending)
      if (retry.length === 0) return
      pending = retry
      // The database (or broker) being away is no message's fault: the batch is retried as a whole until it
      // goes through, never dead-lettered.
      const unavailable = isRetryable(err)
      log.warn({ err, size: pending.length, attempt, unavailable }, 'batch failed, retrying')
      if (!unavailable && attempt >= 1) break
      await sleep(backoffDelay(attempt, TRANSIENT_BACKOFF))
      if (this.#consumer === undefined) return
    }
    // The failure follows a message: isolate it so the others go through.
    for (const one of pending) await this.#processAlone(one)
  }

  async #processAlone(pending: Pending): Promise<void> {
    let lastError: unknown
    for (let attempt = 0; attempt < MESSAGE_ATTEMPTS; attempt++) {
      const { retry, err } = await this.#handle([pending])
      if (retry.length === 0) return
      lastError = err
      if (isRetryable(err)) attempt-- // never dead-letter a message because the database is down
      await sleep(backoffDelay(attempt + 1, TRANSIENT_BACKOFF))
    }
    await this.#settle([pending], [{ deadLetter: `processing failed ${MESSAGE_ATTEMPTS} times: ${String((lastError as Error)?.message ?? lastError)}` }])
  }

  /** Hands messages to the handler and settles what it decided; returns those to hand again, and why. */
  async #handle(pending: Pending[]): Promise<{ retry: Pending[]; err?: unknown }> {
    let outcomes: MessageOutcome[]
    try {
      outcomes = await this.#opts.handler(pending.map((p) => p.msg))
    } catch (err) {
      return { retry: pending, err }
    }
    const retry: Pending[] = []
    let err: unknown
    const settled: Pending[] = []
    const decisions: Settled[] = []
    pending.forEach((p, i) => {
      const outcome = outcomes[i] ?? { ack: true }
      if ('retry' in outcome) {
        retry.push(p)
        err ??= outcome.retry
      } else {
        settled.push(p)
        decisions.push(outcome)
      }
    })
    await this.#settle(settled, decisions)
    return { retry, err }
  }

  async #settle(batch: Pending[], outcomes: Settled[]): Promise<void> {
    await Promise.all(
      batch.map(async (pending, i) => {
        const outcome = outcomes[i]
        if ('deadLetter' in outcome) {
          try {
            await this.deadLetter(pending.msg, outcome.deadLetter)
          } catch (err) {
            // Not dead-lettered (broker down, or its DLQ deleted or unbound: the broker returned it): requeue
            // it rather than lose it, after a pause so that a missing DLQ is not a busy loop.
            this.#opts.log.error({ err, dlq: this.#deadLetterRoutingKey }, 'cannot dead-letter a message, leaving it in its queue')
            await sleep(DEAD_LETTER_RETRY_MS)
            pending.reject(err)
            return
          }
        }
        pending.resolve()
      }),
    )
  }

  /**
   * Republishes a message to `regards.DLX` with routing key `<queue>.DLQ`, as REGARDS' recoverer does.
   * Mandatory: a DLQ that was deleted or unbound makes the broker return the message, and this rejects
   * instead of the broker confirming a message it dropped.
   */
  async deadLetter(msg: AsyncMessage, reason: string): Promise<void> {
    const { queue, log, onDeadLetter } = this.#opts
    const body = Buffer.isBuffer(msg.body) ? msg.body : Buffer.from(typeof msg.body === 'string' ? msg.body : JSON.stringify(msg.body))
    await this.#broker.publish({
      mandatory: true,
      // A returned message is recognised by its id: keep the original one, or give it one.
      messageId: msg.messageId || `herald-dead-letter-${randomUUID()}`,
      exchange: DLX,
      routingKey: this.#deadLetterRoutingKey,
      headers: {
        ...msg.headers,
        'x-exception-message': reason,
        'x-original-exchange': msg.exchange,
        'x-original-routingKey': msg.routingKey,
        'x-death-queue': queue,
      },
      body,
      priority: msg.priority,
      contentType: msg.contentType,
    })
    log.warn({ reason, requestId: msg.headers?.['regards.request.id'] }, 'message dead-lettered')
    onDeadLetter?.(reason)
  }

  get #deadLetterRoutingKey(): string {
    return this.#opts.deadLetterRoutingKey ?? dedicatedDlq(this.#opts.queue)
  }

  /** Stops taking messages, then waits for the batch in progress to finish. */
  async stop(): Promise<void> {
    const consumer = this.#consumer
    this.#consumer = undefined
    await consumer?.close()
    await this.#idle
  }
}
