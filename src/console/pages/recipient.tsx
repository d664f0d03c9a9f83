import { useState } from 'preact/hooks'
import type { RecipientState } from '../../views.ts'
import { api, ApiError, type AsJson } from '../api.ts'
import { useRequestChanges } from '../live.ts'
import { Link, navigate } from '../router.tsx'
import type { Session } from '../session.ts'
import { ActionButton, age, Detail, ErrorBox, Facts, Json, RecipientStateBadge, Time, useLoad } from '../ui.tsx'

/** A parameter as `GET /api/v1/plugins/{pluginId}` describes it (REGARDS PluginParamDescriptor). */
interface ParameterDescriptor {
  name: string
  label?: string
  type: string
  optional: boolean
  defaultValue?: unknown
  description?: string
  sensitive: boolean
  constraints?: { enum?: unknown[]; minimum?: number; maximum?: number; formatDescription?: string }
}

interface PluginDescription {
  pluginId: string
  description?: string
  parameters: ParameterDescriptor[]
}

interface StoredParameter {
  name: string
  type?: string
  value?: unknown
}

/** `GET /api/v1/recipients/{businessId}`. */
interface Recipient {
  businessId: string
  pluginId: string
  label: string
  active: boolean
  state: AsJson<RecipientState>
  version: string
  priorityOrder: number
  parameters: StoredParameter[]
  updatedAt: string
  description: string
}

/** What the API answers in place of a stored secret; sent back, it keeps the secret (when the destination is unchanged). */
const MASK = '********'

/** The text a form field shows for a stored value. */
function fieldText(d: ParameterDescriptor, value: unknown): string {
  if (value === undefined || value === null) return ''
  if (d.type === 'COLLECTION' || d.type === 'MAP') return JSON.stringify(value, null, 2)
  return String(value)
}

/** A form value back to the REGARDS parameter value its type calls for; undefined leaves it out. */
function parseField(d: ParameterDescriptor, text: string): unknown {
  if (text === '') return undefined
  switch (d.type) {
    case 'BOOLEAN':
      return text === 'true'
    case 'INTEGER':
    case 'LONG':
    case 'DOUBLE':
    case 'FLOAT':
    case 'SHORT':
    case 'BYTE':
      return Number(text)
    case 'COLLECTION':
    case 'MAP':
      try {
        return JSON.parse(text)
      } catch {
        throw new Error(`${d.label ?? d.name}: not valid JSON`)
      }
    default:
      return text
  }
}

/**
 * The configuration form, built from the plugin's description: one field per declared parameter with
 * its label, description and default; secrets are write-only (left empty, the stored one is kept).
 */
function ConfigurationForm(props: { recipient: Recipient; plugin: PluginDescription; onSaved: () => void }) {
  const stored = new Map(props.recipient.parameters.map((p) => [p.name, p.value]))
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(props.plugin.parameters.map((d) => [d.name, d.sensitive ? '' : fieldText(d, stored.get(d.name))])),
  )
  const [error, setError] = useState<unknown>()
  const [saved, setSaved] = useState(false)
  const save = async (e: Event) => {
    e.preventDefault()
    setError(undefined)
    setSaved(false)
    try {
      const parameters = props.plugin.parameters.flatMap((d) => {
        const text = values[d.name]
        // An untouched secret field sends the mask back: the stored secret is kept.
        const value = d.sensitive && text === '' && stored.has(d.name) ? MASK : parseField(d, text)
        return value === undefined ? [] : [{ name: d.name, type: d.type, value }]
      })
      const r = props.recipient
      await api(`/recipients/${encodeURIComponent(r.businessId)}`, {
        method: 'PUT',
        body: { pluginId: r.pluginId, label: r.label, version: r.version, priorityOrder: r.priorityOrder, active: r.active, parameters },
      })
      setSaved(true)
      props.onSaved()
    } catch (err) {
      setError(err)
    }
  }
  return (
    <form class="config" onSubmit={save} aria-label="Configuration">
      {props.plugin.parameters.map((d) => {
        const id = `param-${d.name}`
        const set = (v: string) => setValues({ ...values, [d.name]: v })
        const c = d.constraints
        const range = c?.minimum !== undefined || c?.maximum !== undefined ? `Between ${c.minimum ?? '−∞'} and ${c.maximum ?? '∞'}.` : ''
        const hint = [d.description, c?.formatDescription, range, d.defaultValue !== undefined ? `Default: ${JSON.stringify(d.defaultValue)}.` : '', d.optional ? '' : 'Required.']
          .filter(Boolean)
          .join(' ')
        return (
          <div class="field" key={d.name}>
            <label for={id}>
              {d.label ?? d.name} <code class="muted">{d.name}</code>
            </label>
            {d.type === 'BOOLEAN' ? (
              <select id={id} value={values[d.name]} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
                <option value="">{d.defaultValue !== undefined ? `default (${String(d.defaultValue)})` : 'unset'}</option>
                <option value="true">true</option>
                <option value="false">false</option>
              </select>
            ) : d.constraints?.enum ? (
              <select id={id} value={values[d.name]} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
                <option value="">{d.defaultValue !== undefined ? `default (${String(d.defaultValue)})` : 'unset'}</option>
                {d.constraints.enum.map((v) => (
                  <option key={String(v)} value={String(v)}>
                    {String(v)}
                  </option>
                ))}
              </select>
            ) : d.type === 'COLLECTION' || d.type === 'MAP' ? (
              <textarea id={id} rows={3} spellcheck={false} value={values[d.name]} onInput={(e) => set((e.target as HTMLTextAreaElement).value)} />
            ) : d.sensitive ? (
              <input
                id={id}
                type="password"
                autocomplete="new-password"
                placeholder={stored.has(d.name) ? 'stored (write-only): leave empty to keep it' : ''}
                value={values[d.name]}
                onInput={(e) => set((e.target as HTMLInputElement).value)}
              />
            ) : (
              <input id={id} type="text" value={values[d.name]} onInput={(e) => set((e.target as HTMLInputElement).value)} />
            )}
            {hint && <div class="muted">{hint}</div>}
          </div>
        )
      })}
      <button type="submit">Save</button>
      {saved && <span role="status">Saved.</span>}
      <ErrorBox error={error} />
    </form>
  )
}

/** One recipient: its live state, its configuration, and what an operator does to it. */
export function RecipientPage(props: { businessId: string; session: Session }) {
  const path = `/recipients/${encodeURIComponent(props.businessId)}`
  const recipient = useLoad(path, () => api<Recipient>(path), 10_000)
  useRequestChanges(() => recipient.reload(), [path])
  const pluginId = recipient.data?.pluginId
  const plugin = useLoad(`plugin-${pluginId}`, () => (pluginId ? api<PluginDescription>(`/plugins/${encodeURIComponent(pluginId)}`) : Promise.resolve(undefined)))
  const admin = props.session.role === 'ADMIN'
  const [tested, setTested] = useState<unknown>()
  const act = (action: string) => async () => {
    await api(`${path}/${action}`, { method: 'POST' })
    recipient.reload()
  }
  return (
    <Detail kind="Recipient" name={props.businessId} loaded={recipient}>
      {(r) => (
        <>
          <Facts
            items={[
              ['Plugin', r.pluginId],
              ['Label', r.label],
              [
                'State',
                <>
                  <RecipientStateBadge active={r.active} parked={r.state.parked} />
                  {r.state.parkedReason && <span class="muted"> {r.state.parkedReason}</span>}
                </>,
              ],
              [
                'Waiting',
                <>
                  {r.state.backlog}
                  {r.state.backlog > 0 && <span class="muted"> (oldest {age(r.state.oldestWaitingSeconds)})</span>}
                </>,
              ],
              ['Sending', r.state.sending],
              ['In error', r.state.errors > 0 ? <Link href={`/requests?state=ERROR&recipient=${encodeURIComponent(r.businessId)}`}>{r.state.errors}</Link> : 0],
              [
                'Last error',
                r.state.lastError ? (
                  <>
                    {r.state.lastError.message} <Time value={r.state.lastError.at} />
                  </>
                ) : (
                  '—'
                ),
              ],
            ]}
          />
          {admin && (
            <div class="actions">
              {r.state.parked ? <ActionButton label="Resume" run={act('unpark')} /> : <ActionButton label="Park" run={act('park')} />}
              {r.active ? <ActionButton label="Deactivate" run={act('deactivate')} /> : <ActionButton label="Activate" run={act('activate')} />}
              <ActionButton label="Send a test product" run={async () => setTested(await api(`${path}/test`, { method: 'POST', body: {} }))} />
              <ActionButton
                label="Delete"
                danger
                confirm={`Delete recipient ${props.businessId}?`}
                run={async () => {
                  try {
                    await api(path, { method: 'DELETE' })
                  } catch (e) {
                    if (e instanceof ApiError && e.status === 409) {
                      throw new Error(`${e.detail ?? e.title}. Its deliveries must be sent or dropped first: park it and wait, or delete with force from the CLI or the API (force=true drops them).`)
                    }
                    throw e
                  }
                  navigate('/')
                }}
              />
            </div>
          )}
          {tested !== undefined && (
            <div role="status">
              <h2>Test product: outcome</h2>
              <Json value={tested} label="Test outcome" />
            </div>
          )}
          <h2>Configuration</h2>
          {admin && plugin.data ? (
            <ConfigurationForm recipient={r} plugin={plugin.data} onSaved={recipient.reload} />
          ) : (
            <Json value={r.parameters} label="Parameters" />
          )}
          <ErrorBox error={plugin.error} />
        </>
      )}
    </Detail>
  )
}
