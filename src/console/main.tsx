import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, whenUnauthorized } from './api.ts'
import { startLive, stopLive, whenStreamEnds } from './live.ts'
import { DeadLetterPage, DeadLetters } from './pages/dead-letters.tsx'
import { Overview } from './pages/overview.tsx'
import { ProductPage, Products } from './pages/products.tsx'
import { RecipientPage } from './pages/recipient.tsx'
import { RequestPage } from './pages/request.tsx'
import { Requests } from './pages/requests.tsx'
import { RulePage, Rules } from './pages/rules.tsx'
import { SignIn } from './pages/sign-in.tsx'
import { Link, navigate, useLocation } from './router.tsx'
import { currentSession, forgetSession, rememberNext, takeNext, type Session } from './session.ts'

const SCREENS = [
  { href: '/', label: 'Overview' },
  { href: '/requests', label: 'Requests' },
  { href: '/rules', label: 'Rules' },
  { href: '/products', label: 'Products' },
  { href: '/dead-letters', label: 'Dead letters' },
]

function Screen(props: { path: string; session: Session }) {
  const [pathname, search = ''] = props.path.split('?')
  const one = (prefix: string) => new RegExp(`^/${prefix}/([^/]+)$`).exec(pathname)?.[1]
  const id = (prefix: string) => {
    const raw = one(prefix)
    return raw === undefined ? undefined : decodeURIComponent(raw)
  }
  const s = props.session
  if (pathname === '/') return <Overview />
  if (pathname === '/requests') return <Requests search={`?${search}`} />
  if (id('requests')) return <RequestPage requestId={id('requests')!} session={s} />
  if (pathname === '/recipients') return <Overview />
  if (id('recipients')) return <RecipientPage businessId={id('recipients')!} session={s} />
  if (pathname === '/rules') return <Rules />
  if (id('rules')) return <RulePage businessId={id('rules')!} session={s} />
  if (pathname === '/products') return <Products search={`?${search}`} />
  if (id('products')) return <ProductPage urn={id('products')!} />
  if (pathname === '/dead-letters') return <DeadLetters search={`?${search}`} />
  if (id('dead-letters')) return <DeadLetterPage id={id('dead-letters')!} session={s} />
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
  useEffect(() => {
    const ended = () => {
      forgetSession()
      setSession(undefined)
    }
    whenUnauthorized(ended)
    whenStreamEnds(ended)
  }, [])
  useEffect(() => {
    if (session) startLive()
    return stopLive
  }, [session?.token])

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
