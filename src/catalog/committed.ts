import type { AsyncMessage } from 'rabbitmq-client'

/**
 * Messages whose effect is committed but which are not acked yet. The batch handlers commit one transaction per
 * tenant; when one tenant's transaction fails, the consumer retries the whole batch, and the other tenants'
 * messages must not be applied twice (a second registration would be answered "Request id already exists", a
 * second ack counted as a duplicate). Keyed by the message object, so entries go with the messages.
 */
const committed = new WeakSet<AsyncMessage>()

export const markCommitted = (messages: AsyncMessage[]) => messages.forEach((m) => committed.add(m))
export const isCommitted = (message: AsyncMessage) => committed.has(message)
