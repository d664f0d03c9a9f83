import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'

/** The console lives under /console/; every screen has its own path so that a link opens the same view. */
export const BASE = '/console'

/** The path inside the console, with its query: `/requests?state=ERROR`. */
export function consolePath(): string {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname
  return (path === '' ? '/' : path) + location.search
}

const listeners = new Set<() => void>()

export function navigate(to: string, replace = false): void {
  const url = BASE + to
  if (replace) history.replaceState(null, '', url)
  else history.pushState(null, '', url)
  for (const l of listeners) l()
}

/** Re-renders its user when the location changes (links, back and forward). */
export function useLocation(): string {
  const [path, setPath] = useState(consolePath())
  useEffect(() => {
    const update = () => setPath(consolePath())
    listeners.add(update)
    addEventListener('popstate', update)
    return () => {
      listeners.delete(update)
      removeEventListener('popstate', update)
    }
  }, [])
  return path
}

/** A real link (open in a new tab works), navigated in place on a plain click. */
export function Link(props: { href: string; children: ComponentChildren; class?: string; 'aria-current'?: 'page' }) {
  return (
    <a
      href={BASE + props.href}
      class={props.class}
      aria-current={props['aria-current']}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
        e.preventDefault()
        navigate(props.href)
      }}
    >
      {props.children}
    </a>
  )
}
