import { ERR_VALIDATION } from '../errors.ts'
import type { PluginInput } from '../notifier/plugin-configurations.ts'

/** What creating or replacing a rule takes: its matcher configuration and the recipients it sends to. */
export interface RuleInput extends PluginInput {
  /** businessIds of existing recipients. */
  recipients: string[]
}

/**
 * The members the REST schema checks before the operation, checked again here for the CLI, which hands over
 * a JSON file as it is. The configuration itself (plugin, label, parameters) is checked by savePlugin.
 */
export function checkRuleInput(input: unknown): asserts input is RuleInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw ERR_VALIDATION('a rule must be a JSON object {"pluginId", "label", "parameters", "recipients"}')
  const { recipients } = input as { recipients?: unknown }
  if (!Array.isArray(recipients) || recipients.some((r) => typeof r !== 'string')) {
    throw ERR_VALIDATION('recipients must be a list of recipient businessIds', { errors: [{ in: 'body', path: '/recipients', message: 'must be a list of strings' }] })
  }
}
