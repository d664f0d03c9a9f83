import type { Broker } from '../amqp/broker.ts'
import type { Logger } from '../log.ts'
import { Type, type Static, type TObject, type TProperties } from 'typebox'
import { declarePlugin, P, type ParameterValues, type PluginDeclaration } from '../plugins/declaration.ts'
import { checkParameters } from '../plugins/validate-parameters.ts'
import type { NetworkPolicy } from './outbound-network.ts'
import { POLICY_PARAMETERS } from './policy.ts'
import type { CrossTenantRules } from './tenant-boundary.ts'

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
  | {
      ok: true
      /** What the receiver answered (`HTTP 204`, the SMTP server's reply, the broker's confirm), when known. */
      answer?: string
    }
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
  /** Where the instance lets recipients connect (HERALD_ALLOW_PRIVATE_NETWORKS). */
  network: NetworkPolicy
  /** The recipient's tenant, and which other tenants its messages may carry (HERALD_ALLOW_CROSS_TENANT_PUBLISH). */
  tenant: string
  crossTenantPublish: CrossTenantRules
}

/** Parameters as a name → value map (REGARDS sends a list of `{name, type, value}`). */
export type Parameters = Record<string, unknown>

/**
 * A recipient plugin: its declaration (REGARDS plugin id, parameters), what it reports about a
 * recipient, and how to build a sender. Made with {@link defineSender}, which checks the parameters
 * against the declaration before the plugin reads them.
 */
export interface SenderPlugin {
  pluginId: string
  declaration: PluginDeclaration
  /** Problems with the parameters, each naming the parameter (unknown names included); empty when valid. */
  validate(params: Parameters): string[]
  describe(params: Parameters): RecipientInfo
  /** A configuration that does not validate gives a sender whose every item fails with the problems. */
  create(params: Parameters, ctx: SenderContext): Sender
}

/**
 * Builds a {@link SenderPlugin} from its declaration and functions of the typed, checked values: `create`
 * builds the sender; `describe`, what the recipient reports, is by default what its reporting parameters
 * say ({@link commonRecipientInfo}). At run time unknown names are ignored: a row stored before a
 * parameter was renamed keeps working.
 */
export function defineSender<D extends PluginDeclaration<any>>(spec: {
  declaration: D
  describe?(values: ParameterValues<D>): RecipientInfo
  create(values: ParameterValues<D>, ctx: SenderContext): Sender
}): SenderPlugin {
  const { declaration } = spec
  const describe = spec.describe ?? ((values: ReportingValues) => commonRecipientInfo(declaration, values))
  return {
    pluginId: declaration.pluginId,
    declaration,
    validate: (params) => checkParameters(declaration, params, 'refuse').errors,
    // Invalid values are left out (the defaults stand in): what a recipient reports never throws.
    describe: (params) => describe(checkParameters(declaration, params, 'ignore').values),
    create(params, ctx) {
      const { errors, values } = checkParameters(declaration, params, 'ignore')
      return errors.length > 0 ? misconfiguredSender(errors) : spec.create(values, ctx)
    },
  }
}

/**
 * The sender of a configuration that does not validate (imports refuse such configurations; this covers
 * rows written by other means or before a check existed): every item fails permanently with the
 * problems, instead of the worker failing to build a sender on every scan.
 */
export function misconfiguredSender(problems: string[]): Sender {
  const message = `recipient configuration is invalid: ${problems.join('; ')}`
  return { send: async (items) => items.map(() => ({ ok: false, permanent: true, errorClass: 'CONFIGURATION', message })) }
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

/** What REGARDS' IRecipientNotifier getters report, shared by every sender except DisseminationAckSender's acks. */
export const reportingParameters = (defaultDescription: string) => ({
  recipientLabel: P.optional(P.string('Reported as NotifierEvent.recipients[].label; blank: the recipient is delivered but never listed in events.', { label: 'Recipient label' })),
  description: P.optional(P.string('Shown by GET /recipients and the console.', { label: 'Description', default: defaultDescription })),
  directNotificationEnabled: P.optional(P.boolean('The recipient may be named in a SpecificRecipientNotificationRequestEvent.', { label: 'Direct notification', default: false })),
})

export const ackParameters = {
  ackRequired: P.optional(P.boolean('The catalog waits for a DisseminationAckEvent from this recipient (product pending).', { label: 'Acknowledgement required', default: false })),
  blockingRequired: P.optional(P.boolean('The catalog blocks deletion of the product until the acknowledgement; requires ackRequired=true.', { label: 'Blocking', default: false })),
}

interface ReportingValues {
  recipientLabel?: string
  description?: string
  directNotificationEnabled?: boolean
  ackRequired?: boolean
  blockingRequired?: boolean
}

/**
 * What a recipient reports from its reporting and acknowledgement parameters. Without a valid description
 * of its own, it reports the default its declaration gives the description parameter.
 */
export function commonRecipientInfo(declaration: PluginDeclaration, values: ReportingValues): RecipientInfo {
  // Every recipient declares its description through reportingParameters, which gives it a default.
  const declaredDescription = (declaration.parameters.properties as Record<'description', { default: string }>).description.default
  return {
    recipientLabel: values.recipientLabel?.trim() || undefined,
    ackRequired: values.ackRequired ?? false,
    blockingRequired: values.blockingRequired ?? false,
    directNotificationEnabled: values.directNotificationEnabled ?? false,
    description: values.description ?? declaredDescription,
  }
}

/** Shared by every sender that has both: a blocking recipient must require an acknowledgement. */
export function checkBlocking(values: ReportingValues): string[] {
  return values.blockingRequired && !values.ackRequired
    ? ['parameter blockingRequired=true requires ackRequired=true (a blocking recipient must acknowledge)']
    : []
}

/**
 * A Herald recipient plugin at version 1.0.0: its own parameters, then on every form in the same order what it
 * reports (label, description, direct notification), its acknowledgement and its delivery policy. A blocking
 * recipient must require an acknowledgement; `checks` adds the plugin's own rules.
 */
type RecipientParameters<Own extends TProperties> = Own & ReturnType<typeof reportingParameters> & typeof ackParameters & typeof POLICY_PARAMETERS

export function declareRecipient<Own extends TProperties>(spec: {
  pluginId: string
  description: string
  /** The recipient's description when none is configured. */
  defaultDescription: string
  parameters: Own
  checks?: (values: Static<TObject<RecipientParameters<Own>>>) => string[]
}): PluginDeclaration<RecipientParameters<Own>> {
  const { checks } = spec
  return declarePlugin<RecipientParameters<Own>>({
    pluginId: spec.pluginId,
    kind: 'RECIPIENT',
    version: '1.0.0',
    author: 'Herald',
    description: spec.description,
    parameters: Type.Object({ ...spec.parameters, ...reportingParameters(spec.defaultDescription), ...ackParameters, ...POLICY_PARAMETERS }),
    checks: (values) => [...checkBlocking(values), ...(checks?.(values) ?? [])],
  })
}
