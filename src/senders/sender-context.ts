import type { Ctx } from '../context.ts'
import { networkPolicy } from './outbound-network.ts'
import { misconfiguredSender, parametersToMap, type Parameters as SenderParameters, type PluginParameter, type Sender, type SenderContext, type SenderPlugin } from './sender.ts'
import { publishingProblems, type CrossTenantRules } from './tenant-boundary.ts'

/** What a recipient's sender is given: the broker, a logger naming the recipient, and the instance's limits. */
export function senderContext(ctx: Pick<Ctx, 'broker' | 'log' | 'config'>, recipient: { tenant: string; businessId: string }): SenderContext {
  return {
    broker: ctx.broker,
    log: ctx.log.child({ recipient: recipient.businessId }),
    network: networkPolicy(ctx.config.allowPrivateNetworks),
    tenant: recipient.tenant,
    crossTenantPublish: ctx.config.crossTenantPublish,
  }
}

/**
 * The recipient's sender, or one that fails every item when its parameters cross the tenant boundary
 * (a row stored before the check existed, or written by other means): imports refuse such configurations.
 */
export function createSender(plugin: SenderPlugin, params: SenderParameters, ctx: SenderContext): Sender {
  const problems = publishingProblems(params, ctx.tenant, ctx.crossTenantPublish)
  return problems.length > 0 ? misconfiguredSender(problems) : plugin.create(params, ctx)
}

/** The tenant-boundary problems of a recipient configuration's parameter list, each naming the configuration. */
export const boundaryProblems = (where: string, parameters: PluginParameter[], tenant: string, rules: CrossTenantRules): string[] =>
  publishingProblems(parametersToMap(parameters), tenant, rules).map((p) => `${where}: ${p}`)
