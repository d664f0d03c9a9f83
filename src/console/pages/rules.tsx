import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { Link } from '../router.tsx'
import type { Session } from '../session.ts'
import { ActionButton, DeleteButton, Detail, ErrorBox, ListTable, useLoad } from '../ui.tsx'

interface Parameter {
  name: string
  type?: string
  value: unknown
}

interface Rule {
  businessId: string
  pluginId: string
  label: string
  parameters: Parameter[]
  recipients: string[]
}

type DryRun = { match: true; warnings?: string[] } | { match: false; explain?: string; warnings?: string[] } | { error: string; warnings?: string[] }

export function Rules() {
  const rules = useLoad('rules', () => api<{ items: Rule[] }>('/rules?limit=500'))
  return (
    <section>
      <h1>Rules</h1>
      <ErrorBox error={rules.error} />
      <ListTable
        caption="Rules and the recipients they feed"
        columns={['Rule', 'Plugin', 'Parameters', 'Recipients']}
        items={rules.data?.items}
        empty="No rule: nothing is disseminated by rules yet."
        row={(r) => (
          <tr key={r.businessId}>
            <td>
              <Link href={`/rules/${encodeURIComponent(r.businessId)}`}>{r.label || r.businessId}</Link>
            </td>
            <td>{r.pluginId}</td>
            <td class="clip">
              {r.parameters.map((p) => (
                <div key={p.name}>
                  <code>{p.name}</code> = <code>{typeof p.value === 'string' ? p.value : JSON.stringify(p.value)}</code>
                </div>
              ))}
            </td>
            <td>{r.recipients.join(', ') || '—'}</td>
          </tr>
        )}
      />
    </section>
  )
}

const SAMPLE = JSON.stringify({ metadata: { action: 'CREATED' }, payload: { id: 'product-1', properties: { is_valid: true } } }, null, 2)

/** One rule: its parameters as JSON, saved as they are, and a dry run against a pasted product. */
export function RulePage(props: { businessId: string; session: Session }) {
  const path = `/rules/${encodeURIComponent(props.businessId)}`
  const rule = useLoad(path, () => api<Rule>(path))
  const [draft, setDraft] = useState<string | undefined>()
  const [sample, setSample] = useState(SAMPLE)
  const [result, setResult] = useState<DryRun | undefined>()
  const [error, setError] = useState<unknown>()
  const parameters = draft ?? (rule.data ? JSON.stringify(rule.data.parameters, null, 2) : '')
  const admin = props.session.role === 'ADMIN'

  const parse = (text: string, what: string) => {
    try {
      return JSON.parse(text)
    } catch (e) {
      throw new Error(`${what} is not valid JSON: ${(e as Error).message}`)
    }
  }
  const dryRun = (r: Rule) => async () => {
    setError(undefined)
    setResult(undefined)
    try {
      const { metadata, payload } = parse(sample, 'The product') as { metadata?: unknown; payload?: unknown }
      setResult(await api<DryRun>('/rules/test', { method: 'POST', body: { rule: { pluginId: r.pluginId, parameters: parse(parameters, 'The parameters') }, metadata, payload } }))
    } catch (e) {
      setError(e)
    }
  }
  return (
    <Detail kind="Rule" name={props.businessId} loaded={rule}>
      {(r) => (
        <div class="columns">
          <div>
            <p>
              {r.pluginId} · recipients: {r.recipients.join(', ') || 'none'}
            </p>
            <label for="rule-parameters">Parameters (JSON)</label>
            <textarea id="rule-parameters" rows={10} spellcheck={false} value={parameters} readOnly={!admin} onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)} />
            {admin && (
              <div class="actions">
                <ActionButton
                  label="Save"
                  run={async () => {
                    await api(path, { method: 'PUT', body: { pluginId: r.pluginId, label: r.label, parameters: parse(parameters, 'The parameters'), recipients: r.recipients } })
                    setDraft(undefined)
                    rule.reload()
                  }}
                />
                <DeleteButton path={path} confirm={`Delete rule ${props.businessId}?`} then="/rules" />
              </div>
            )}
          </div>
          <div>
            <label for="rule-sample">Product to test (metadata and payload, JSON)</label>
            <textarea id="rule-sample" rows={10} spellcheck={false} value={sample} onInput={(e) => setSample((e.target as HTMLTextAreaElement).value)} />
            <div class="actions">
              <button type="button" onClick={dryRun(r)}>
                Dry run
              </button>
            </div>
            <ErrorBox error={error} />
            {result && (
              <div role="status" class={'match' in result && result.match ? 'verdict ok' : 'verdict bad'}>
                {'error' in result ? (
                  <>The rule fails: {result.error}</>
                ) : result.match ? (
                  <>Matches: this product would be sent to {r.recipients.join(', ') || 'no recipient (none attached)'}.</>
                ) : (
                  <>Does not match: {result.explain ?? 'no clause holds'}</>
                )}
                {result.warnings?.map((w) => (
                  <div key={w} class="muted">
                    {w}
                  </div>
                ))}
              </div>
            )}
          </div>
        </div>
      )}
    </Detail>
  )
}
