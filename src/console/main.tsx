import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, whenUnauthorized } from './api.ts'
import { Overview } from './pages/overview.tsx'
import { RequestPage } from './pages/request.tsx'
import { Requests } from './pages/requests.tsx'
import { SignIn } from './pages/sign-in.tsx'
import { Link, navigate, useLocation } from './router.tsx'
import { currentSession, forgetSession, rememberNext, takeNext, type Session } from './session.ts'

const SCREENS = [
  { href: '/', label: 'Overview' },
  { href: '/requests', label: 'Requests' },
]

function Screen(props: { path: string; session: Session }) {
  const [pathname, search = ''] = props.path.split('?')
  const request = /^\/requests\/([^/]+)$/.exec(pathname)
  if (pathname === '/') return <Overview />
  if (pathname === '/requests') return <Requests search={`?${search}`} />
  if (request) return <RequestPage requestId={decodeURIComponent(request[1])} session={props.session} />
  return (
    <section>
      <h1>Not found</h1>
      <p>
        The console has no screen at <code>{pathname}</code>. <Link href="/">Back to the overview</Link>
      </p>
    </section>
  )
}

function App() {
  const [session, setSession] = useState(currentSession())
  const path = useLocation()
  useEffect(() => whenUnauthorized(() => setSession(undefined)), [])

  if (!session) {
    if (path !== '/' && !path.startsWith('/sign-in')) rememberNext(path)
    return (
      <SignIn
        onSignedIn={(s) => {
          setSession(s)
          navigate(takeNext() ?? '/', true)
        }}
      />
    )
  }
  if (path.startsWith('/sign-in')) navigate(takeNext() ?? '/', true)
  const signOut = async () => {
    // A session opened with a one-time code is revoked on the server; a pasted token is only forgotten.
    if (session.kind === 'code') await api('/console/sign-out', { method: 'POST' }).catch(() => {})
    forgetSession()
    setSession(undefined)
    navigate('/', true)
  }
  const current = path.split('?')[0]
  return (
    <>
      <header class="top">
        <span class="brand">Herald</span>
        <nav aria-label="Screens">
          {SCREENS.map((s) => (
            <Link key={s.href} href={s.href} aria-current={current === s.href || (s.href !== '/' && current.startsWith(s.href)) ? 'page' : undefined}>
              {s.label}
            </Link>
          ))}
        </nav>
        <span class="who">
          {session.tenant} · {session.role}
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        <Screen path={path} session={session} />
      </main>
    </>
  )
}

render(<App />, document.getElementById('app')!)
