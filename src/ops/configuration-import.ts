import { ERR_IMPORT_REJECTED, ERR_VALIDATION } from '../errors.ts'
import { ConfigImportError, importNotifierConfig, type ImportReport, type NotifierConfigFile } from '../notifier/config-import.ts'
import { restoreMaskedSecrets } from '../secrets/mask-secrets.ts'
import { sealStoredSecrets } from '../secrets/seal-stored-secrets.ts'
import { audited } from './audit.ts'
import type { OpsDeps } from './deps.ts'
import type { Principal } from './principal.ts'

export interface ConfigurationImportInput {
  /** A REGARDS notifier configuration file, as parsed (its shape is checked by the import). */
  file: NotifierConfigFile
  /** Unknown parameter names are warnings (and left out) instead of errors, for files of other REGARDS versions. */
  lenient?: boolean
}

/**
 * Imports a configuration file: all of it, or nothing and HERALD_ERR_IMPORT_REJECTED listing every error
 * (`errors`). Secrets sent back masked (a re-imported export) keep their stored value. resetBeforeImport
 * first deletes the tenant's rules, recipients and requests, as REGARDS does.
 */
export function configurationImport(deps: OpsDeps, principal: Principal, input: ConfigurationImportInput): Promise<ImportReport> {
  return audited(deps, principal, { action: 'configuration.import', access: 'admin' }, async () => {
    const modules: unknown = input.file?.modules
    if (!Array.isArray(modules) || modules.some((m) => !Array.isArray(m?.configuration))) {
      throw ERR_VALIDATION('the file must have a "modules" list, each module with a "configuration" list', { errors: [{ in: 'body', path: '/modules', message: 'must be a list of modules with a configuration list' }] })
    }
    // A CLI may run with another HERALD_SECRET_KEY than the instances: refused before sealing more with it
    // (a running instance checked its key at start, this finds nothing to do there).
    await sealStoredSecrets(deps.db, deps.secrets, deps.log)
    const file = await restoreMaskedSecrets(deps.db, deps.secrets, principal.tenant, input.file)
    let report: ImportReport
    try {
      report = await importNotifierConfig(deps.db, deps.secrets, principal.tenant, file, { lenient: input.lenient, crossTenantPublish: deps.config.crossTenantPublish })
    } catch (err) {
      if (err instanceof ConfigImportError) throw ERR_IMPORT_REJECTED(err.errors.join('; '), { errors: err.errors })
      throw err
    }
    // New rules and recipients: this instance's cache is dropped (the others follow config_version), and
    // the delivery workers look again at once, for deliveries a reset or a new recipient concerns.
    deps.configCache.invalidate(principal.tenant)
    deps.signals.deliveries()
    return report
  }, (r) => `${r.plugins} plugin configurations, ${r.associations} associations${r.reset ? ', after a reset' : ''}`)
}
