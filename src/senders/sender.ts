import type { Broker } from '../amqp/broker.ts'
import type { Logger } from '../log.ts'

/** One product to deliver to one recipient (a claimed delivery row with its request). */
export interface DeliveryItem {
  deliveryId: number
  tenant: string
  requestId: string
  requestOwner: string | undefined
  requestDate: Date
  payload: Record<string, unknown>
  metadata: Record<string, unknown>
  /** 1 for the first attempt. */
  attempt: number
}

/** The outcome of one item. A failure is retried by the delivery policy unless it is permanent. */
export type SendResult =
  | { ok: true }
  | {
      ok: false
      permanent: boolean
      errorClass: string
      message: string
      retryAfterMs?: number
      /** The recipient itself is unusable (credentials rejected): park it rather than fail the products. */
      parkRecipient?: boolean
    }

export interface Sender {
  /** Sends a batch; returns one result per item, in order. Throwing fails the whole batch (retryable). */
  send(items: DeliveryItem[]): Promise<SendResult[]>
  close?(): Promise<void>
}

/** What the notifier reports about a recipient (REGARDS IRecipientNotifier getters). */
export interface RecipientInfo {
  /** `NotifierEvent.recipients[].label`; a blank label keeps the recipient out of events. */
  recipientLabel: string | undefined
  ackRequired: boolean
  blockingRequired: boolean
  directNotificationEnabled: boolean
  description: string
}

export interface SenderContext {
  broker: Broker
  log: Logger
}

/** Parameters as a name → value map (REGARDS sends a list of `{name, type, value}`). */
export type Parameters = Record<string, unknown>

/** A recipient plugin: REGARDS' plugin id, its parameters, and how to build a sender from them. */
export interface SenderPlugin {
  pluginId: string
  /** Problems with the parameters, each naming the parameter; empty when the configuration is valid. */
  validate(params: Parameters): string[]
  describe(params: Parameters): RecipientInfo
  create(params: Parameters, ctx: SenderContext): Sender
}

export interface PluginParameter {
  name: string
  type?: string
  value: unknown
  dynamic?: boolean
}

export function parametersToMap(parameters: PluginParameter[]): Parameters {
  const map: Parameters = {}
  for (const p of parameters) map[p.name] = p.value
  return map
}

export const stringParam = (params: Parameters, name: string): string | undefined => {
  const v = params[name]
  return v === undefined || v === null || v === '' ? undefined : String(v)
}

export const boolParam = (params: Parameters, name: string, fallback = false): boolean => {
  const v = params[name]
  if (v === undefined || v === null || v === '') return fallback
  return v === true || String(v).toLowerCase() === 'true'
}

/** The parameters every REGARDS sender shares (AbstractRabbitMQSender). */
export function commonRecipientInfo(params: Parameters, defaultDescription: string): RecipientInfo {
  return {
    recipientLabel: stringParam(params, 'recipientLabel')?.trim() || undefined,
    ackRequired: boolParam(params, 'ackRequired'),
    blockingRequired: boolParam(params, 'blockingRequired'),
    directNotificationEnabled: boolParam(params, 'directNotificationEnabled'),
    description: stringParam(params, 'description') ?? defaultDescription,
  }
}

/** Checks shared by every sender: a blocking recipient must require an acknowledgement (DESIGN §4). */
export function validateCommon(params: Parameters): string[] {
  const info = commonRecipientInfo(params, '')
  return info.blockingRequired && !info.ackRequired
    ? ['parameter blockingRequired=true requires ackRequired=true (a blocking recipient must acknowledge)']
    : []
}
