import type { ComponentChildren, VNode } from 'preact'
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { api, ApiError, query } from './api.ts'
import { Link, navigate } from './router.tsx'

/** A time in UTC, with the browser's local time on hover. */
export function Time(props: { value: string | null | undefined }) {
  if (!props.value) return <span class="muted">—</span>
  const d = new Date(props.value)
  const utc = d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')
  return (
    <time dateTime={d.toISOString()} title={d.toLocaleString()}>
      {utc}
    </time>
  )
}

/** An error of the API as the operator needs it: what failed, the API's explanation, its stable code. */
export function ErrorBox(props: { error: unknown }) {
  if (!props.error) return null
  const e = props.error
  const text = e instanceof ApiError ? e.title : e instanceof Error ? e.message : String(e)
  return (
    <div class="error" role="alert">
      <strong>{text}</strong>
      {e instanceof ApiError && e.detail && e.detail !== e.title && <div>{e.detail}</div>}
      {e instanceof ApiError && Array.isArray(e.errors) && (
        <ul>
          {e.errors.slice(0, 20).map((x, i) => (
            <li key={i}>{typeof x === 'string' ? x : JSON.stringify(x)}</li>
          ))}
        </ul>
      )}
      {e instanceof ApiError && e.code && <div class="muted">{e.code}</div>}
    </div>
  )
}

export function Empty(props: { children: ComponentChildren }) {
  return <p class="empty">{props.children}</p>
}

/** JSON shown as text (never as HTML), long values wrapped. */
export function Json(props: { value: unknown; label: string }) {
  return (
    <pre class="json" aria-label={props.label} tabIndex={0}>
      {JSON.stringify(props.value, null, 2)}
    </pre>
  )
}

export interface Loaded<T> {
  data: T | undefined
  error: unknown
  loading: boolean
  reload: () => void
}

/**
 * Loads `fetcher()` whenever `key` changes, and again every `refreshMs` while the tab is visible (the
 * screens without an event stream stay current this way; 0 turns it off).
 */
export function useLoad<T>(key: string, fetcher: () => Promise<T>, refreshMs = 0): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true })
  const generation = useRef(0)
  const run = useCallback(() => {
    const mine = ++generation.current
    setState((s) => ({ ...s, loading: true }))
    fetcher().then(
      (data) => mine === generation.current && setState({ data, error: undefined, loading: false }),
      (error) => mine === generation.current && setState((s) => ({ data: s.data, error, loading: false })),
    )
  }, [key])
  useEffect(() => {
    setState({ data: undefined, error: undefined, loading: true })
    run()
    if (!refreshMs) return
    const timer = setInterval(() => document.visibilityState === 'visible' && run(), refreshMs)
    return () => clearInterval(timer)
  }, [run, refreshMs])
  return { ...state, reload: run }
}

/** A button that runs an action, shows it running, and reports its failure next to it. */
export function ActionButton(props: { label: string; run: () => Promise<unknown>; danger?: boolean; confirm?: string; disabled?: boolean }) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>()
  return (
    <span class="action">
      <button
        type="button"
        class={props.danger ? 'danger' : undefined}
        disabled={busy || props.disabled}
        onClick={async () => {
          if (props.confirm && !confirm(props.confirm)) return
          setBusy(true)
          setError(undefined)
          try {
            await props.run()
          } catch (e) {
            setError(e)
          } finally {
            setBusy(false)
          }
        }}
      >
        {busy ? `${props.label}…` : props.label}
      </button>
      <ErrorBox error={error} />
    </span>
  )
}

/** A duration for people: `45 s`, `12 min`, `3 h 5 min`, `2 d`. */
export function age(seconds: number): string {
  if (seconds < 60) return `${seconds} s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`
  return `${Math.floor(seconds / 86_400)} d`
}

/** A recipient's state as a badge: inactive, parked (with its reason on hover) or active. */
export function RecipientStateBadge(props: { active: boolean; parked: boolean; parkedReason?: string | null }) {
  if (!props.active) return <span class="badge">inactive</span>
  if (props.parked) return <span class="badge warn" title={props.parkedReason ?? ''}>parked</span>
  return <span class="badge ok">active</span>
}

/** An ADMIN's delete (or discard) of what `path` names, confirmed first, then the screen `then`. */
export function DeleteButton(props: { path: string; confirm: string; then: string; label?: string }) {
  return (
    <ActionButton
      label={props.label ?? 'Delete'}
      danger
      confirm={props.confirm}
      run={async () => {
        await api(props.path, { method: 'DELETE' })
        navigate(props.then)
      }}
    />
  )
}

/** A state, status or decision of the API as a badge, coloured by its value (console.css). */
export function Badge(props: { kind: 'state' | 'status' | 'decision'; value: string; title?: string; children?: ComponentChildren }) {
  return (
    <span class={`badge ${props.kind}-${props.value}`} title={props.title}>
      {props.children ?? props.value}
    </span>
  )
}

/** A column of a ListTable: its heading, right-aligned for numbers. */
export type Column = string | { label: string; num: true }
export const numeric = (label: string): Column => ({ label, num: true })

/**
 * A list as the screens show one: nothing while it loads, `empty` (if any) when it holds nothing, else a
 * table with its caption, one heading per column and `row` for each item (a `<tr>`).
 */
export function ListTable<T>(props: { caption: ComponentChildren; columns: Column[]; items: T[] | undefined; empty?: ComponentChildren; row: (item: T, index: number) => VNode; class?: string }) {
  if (!props.items) return null
  if (props.items.length === 0) return props.empty === undefined ? null : <Empty>{props.empty}</Empty>
  return (
    <table class={props.class}>
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          {props.columns.map((c) =>
            typeof c === 'string' ? (
              <th scope="col" key={c}>
                {c}
              </th>
            ) : (
              <th scope="col" class="num" key={c.label}>
                {c.label}
              </th>
            ),
          )}
        </tr>
      </thead>
      <tbody>{props.items.map(props.row)}</tbody>
    </table>
  )
}

/** Label and value pairs, as a detail screen opens with (falsy entries are left out). */
export function Facts(props: { items: ([string, ComponentChildren] | false | undefined)[] }) {
  return (
    <dl class="facts">
      {props.items
        .filter((item) => item)
        .map((item) => {
          const [label, value] = item as [string, ComponentChildren]
          return [<dt key={`${label}-dt`}>{label}</dt>, <dd key={`${label}-dd`}>{value}</dd>]
        })}
    </dl>
  )
}

/** The pages of a cursor-paged list: back in the browser's history, and the next page's link when there is one. */
export function Pager(props: { previous: boolean; next: string | undefined }) {
  return (
    <nav class="pager" aria-label="Pages">
      {props.previous && (
        <button type="button" onClick={() => history.back()}>
          Previous page
        </button>
      )}
      {props.next && <Link href={props.next}>Next page</Link>}
    </nav>
  )
}

/** One entry's screen: its kind and name as the heading, the API's error, then `children` once it is loaded. */
export function Detail<T>(props: { kind: string; name: ComponentChildren; loaded: Loaded<T>; children: (data: T) => ComponentChildren }) {
  return (
    <section>
      <h1>
        {props.kind} <code>{props.name}</code>
      </h1>
      <ErrorBox error={props.loaded.error} />
      {props.loaded.data !== undefined && props.children(props.loaded.data)}
    </section>
  )
}

/** `datetime-local` gives a local wall time without zone; the API wants an instant. */
export const toIso = (local: string | undefined) => (local ? new Date(local).toISOString() : undefined)

/**
 * A list screen's filters, kept in the URL so the view deep-links: the applied filters (and the page cursor)
 * read from `search`, a draft the form edits, `apply` to navigate to `path` with the draft (first page again),
 * `field` for a labelled text or local date-time input and `choice` for a labelled list of values (or any).
 */
export function useUrlFilters<Name extends string>(names: readonly Name[], path: string, search: string) {
  type Filters = Partial<Record<Name | 'cursor', string>>
  const q = new URLSearchParams(search)
  const filters: Filters = {}
  for (const k of [...names, 'cursor' as const]) if (q.get(k)) filters[k] = q.get(k)!
  const [draft, setDraft] = useState<Filters>(filters)
  const apply = (e: Event) => {
    e.preventDefault()
    const { cursor: _, ...rest } = draft
    navigate(`${path}${query(rest)}`)
  }
  const field = (name: Name, label: string, when = false) => {
    const value = draft[name] ?? ''
    const onInput = (e: Event) => setDraft({ ...draft, [name]: (e.target as HTMLInputElement).value })
    return (
      <label>
        {label}
        {when ? <input type="datetime-local" name={name} value={value} onInput={onInput} /> : <input type="text" name={name} value={value} onInput={onInput} />}
      </label>
    )
  }
  const choice = (name: Name, label: string, options: string[]) => (
    <label>
      {label}
      <select name={name} value={draft[name] ?? ''} onChange={(e) => setDraft({ ...draft, [name]: (e.target as HTMLSelectElement).value })}>
        {['', ...options].map((o) => (
          <option key={o} value={o}>
            {o || 'any'}
          </option>
        ))}
      </select>
    </label>
  )
  return { filters, apply, field, choice }
}
