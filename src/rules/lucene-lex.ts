/**
 * Tokens of the Lucene query syntax, as Lucene 8's flexible `StandardSyntaxParser` (the parser REGARDS'
 * `RuleParser` uses) cuts them. The character classes and the keyword rules below are transcribed from
 * its JavaCC grammar (`StandardSyntaxParser.jj`), because a rule means what REGARDS makes of it: for
 * example `-` and `+` may appear inside a term but not start one, `!` is `NOT`, `&&x` is a term while
 * `&&` is `AND`, `a=b` is `a:b`, and `2020-02-23T06:54` needs its colons escaped.
 */

export type TokenKind =
  | 'AND' | 'OR' | 'NOT' | 'PLUS' | 'MINUS' | 'LPAREN' | 'RPAREN' | 'COLON' | 'EQUAL'
  | 'LT' | 'LE' | 'GT' | 'GE' | 'CARAT' | 'TERM' | 'QUOTED' | 'REGEX' | 'FUZZY'
  | 'RANGE_IN' | 'RANGE_EX' | 'EOF'

export interface Token {
  kind: TokenKind
  /** Offset of the first character, 0-based. */
  start: number
  end: number
  /** TERM: raw text with escapes; QUOTED and REGEX: the text between the delimiters; FUZZY: after `~`. */
  image: string
}

/** A rule the parser cannot read; `position` is a 0-based offset into the rule string. */
export class RuleSyntaxError extends Error {
  constructor(message: string, readonly position: number) {
    super(message)
    this.name = 'RuleSyntaxError'
  }
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r', '\u3000'])
// _TERM_START_CHAR excludes these (and the backslash, which always starts an escape). _TERM_CHAR adds
// back '-' and '+'.
const NOT_TERM_START = new Set([...' \t\n\r\u3000+-!():^<>=[]"{}~\\/'])

/** True when `c` may appear in an unescaped term, at its start when `first`. */
export function isTermChar(c: string, first: boolean): boolean {
  if (c === '-' || c === '+') return !first
  return !NOT_TERM_START.has(c)
}

const SINGLE: Record<string, TokenKind> = {
  '+': 'PLUS', '-': 'MINUS', '!': 'NOT', '(': 'LPAREN', ')': 'RPAREN', ':': 'COLON', '=': 'EQUAL', '^': 'CARAT',
  '[': 'RANGE_IN', '{': 'RANGE_EX',
}

/** Human description of a token for error messages. */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case 'EOF': return 'the end of the rule'
    case 'TERM': return `"${t.image}"`
    case 'QUOTED': return `the phrase "${t.image}"`
    case 'REGEX': return `the regular expression /${t.image}/`
    default: return `"${t.kind === 'FUZZY' ? '~' + t.image : t.image}"`
  }
}

/** Reads the token that starts at or after `i` (skipping whitespace), in Lucene's DEFAULT lexical state. */
export function lexToken(src: string, i: number): Token {
  const n = src.length
  while (i < n && WHITESPACE.has(src[i])) i++
  if (i >= n) return { kind: 'EOF', start: n, end: n, image: '' }
  const c = src[i]
  const single = SINGLE[c]
  if (single) return { kind: single, start: i, end: i + 1, image: c }
  if (c === '<' || c === '>') {
    const eq = src[i + 1] === '='
    const kind: TokenKind = c === '<' ? (eq ? 'LE' : 'LT') : eq ? 'GE' : 'GT'
    return { kind, start: i, end: i + (eq ? 2 : 1), image: src.slice(i, i + (eq ? 2 : 1)) }
  }
  if (c === '"') {
    let j = i + 1
    while (j < n && src[j] !== '"') j += src[j] === '\\' ? 2 : 1
    if (j >= n) throw new RuleSyntaxError(`unterminated phrase: the quote at column ${i + 1} is never closed`, i)
    return { kind: 'QUOTED', start: i, end: j + 1, image: src.slice(i + 1, j) }
  }
  if (c === '~') {
    // FUZZY_SLOP: "~" ( digits ( "." digits )? )?
    let j = i + 1
    while (j < n && isDigit(src[j])) j++
    if (j > i + 1 && src[j] === '.' && isDigit(src[j + 1] ?? '')) {
      j++
      while (j < n && isDigit(src[j])) j++
    }
    return { kind: 'FUZZY', start: i, end: j, image: src.slice(i + 1, j) }
  }
  if (c === '/') return lexRegex(src, i)
  if (c === '\\' || isTermChar(c, true)) {
    let j = i
    while (j < n) {
      if (src[j] === '\\') {
        if (j + 1 >= n) throw new RuleSyntaxError(`the rule ends with an escape character (column ${j + 1})`, j)
        j += 2
      } else if (isTermChar(src[j], j === i)) j++
      else break
    }
    const image = src.slice(i, j)
    // JavaCC takes the longest match and, on a tie, the first declared token: the keywords win only
    // when the whole term is the keyword ("AND" is AND, "ANDY" and "&&x" are terms).
    const kind: TokenKind =
      image === 'AND' || image === '&&' ? 'AND' : image === 'OR' || image === '||' ? 'OR' : image === 'NOT' ? 'NOT' : 'TERM'
    return { kind, start: i, end: j, image }
  }
  throw new RuleSyntaxError(`unexpected "${c}" at column ${i + 1}`, i)
}

/**
 * REGEXPTERM is `"/" (~["/"] | "\\/")* "/"` and JavaCC takes the longest match: the expression ends at the
 * first slash not preceded by a backslash, or else at the last escaped one.
 */
function lexRegex(src: string, i: number): Token {
  let end = -1
  for (let j = i + 1; j < src.length; j++) {
    if (src[j] !== '/') continue
    end = j
    if (src[j - 1] !== '\\') break
  }
  if (end < 0) throw new RuleSyntaxError(`unterminated regular expression: the slash at column ${i + 1} is never closed`, i)
  return { kind: 'REGEX', start: i, end: end + 1, image: src.slice(i + 1, end) }
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9'
}

type RangeTokenKind = 'TO' | 'END_IN' | 'END_EX' | 'BOUND' | 'QUOTED_BOUND'

interface RangeToken {
  kind: RangeTokenKind
  start: number
  end: number
  image: string
}

/**
 * Reads `[a TO b]`, `{a TO b}` (or mixed, `TO` optional) after the opening bracket `open`, in Lucene's
 * Range lexical state. Ranges are a Herald extension (REGARDS cannot build them), so this state is only
 * as faithful as the extension needs. Bounds come back unescaped.
 */
export function readRange(src: string, open: Token): { lower: string; upper: string; lowerInclusive: boolean; upperInclusive: boolean; end: number } {
  let pos = open.end
  const read = (): RangeToken => {
    const t = lexRangeToken(src, pos)
    pos = t.end
    return t
  }
  const bound = (t: RangeToken): string => {
    if (t.kind !== 'BOUND' && t.kind !== 'QUOTED_BOUND') {
      throw new RuleSyntaxError(`expected a range bound at column ${t.start + 1}, found "${t.image}"`, t.start)
    }
    return unescapeLucene(t.image, t.kind === 'QUOTED_BOUND' ? t.start + 1 : t.start).value
  }
  const lower = bound(read())
  let t = read()
  if (t.kind === 'TO') t = read()
  const upper = bound(t)
  const close = read()
  if (close.kind !== 'END_IN' && close.kind !== 'END_EX') {
    throw new RuleSyntaxError(`expected "]" or "}" to close the range at column ${close.start + 1}`, close.start)
  }
  return { lower, upper, lowerInclusive: open.kind === 'RANGE_IN', upperInclusive: close.kind === 'END_IN', end: close.end }
}

function lexRangeToken(src: string, i: number): RangeToken {
  const n = src.length
  while (i < n && WHITESPACE.has(src[i])) i++
  if (i >= n) throw new RuleSyntaxError('unterminated range: expected "]" or "}" before the end of the rule', n)
  const c = src[i]
  if (c === ']' || c === '}') return { kind: c === ']' ? 'END_IN' : 'END_EX', start: i, end: i + 1, image: c }
  if (c === '"') {
    let j = i + 1
    while (j < n && src[j] !== '"') j += src[j] === '\\' ? 2 : 1
    if (j >= n) throw new RuleSyntaxError(`unterminated quoted range bound at column ${i + 1}`, i)
    if (j === i + 1) throw new RuleSyntaxError(`empty quoted range bound at column ${i + 1}`, i)
    return { kind: 'QUOTED_BOUND', start: i, end: j + 1, image: src.slice(i + 1, j) }
  }
  let j = i
  while (j < n && !WHITESPACE.has(src[j]) && src[j] !== ']' && src[j] !== '}') j++
  const image = src.slice(i, j)
  return { kind: image === 'TO' ? 'TO' : 'BOUND', start: i, end: j, image }
}

/**
 * Lucene's `EscapeQuerySyntaxImpl.discardEscapeChar`: `\c` gives `c`, `\uXXXX` gives that code unit, and a
 * trailing or truncated escape is a syntax error. `escaped[k]` tells whether output unit `k` was escaped
 * (Herald's wildcards treat an escaped `*` or `?` as a literal character).
 */
export function unescapeLucene(text: string, at: number): { value: string; escaped: boolean[] } {
  let value = ''
  const escaped: boolean[] = []
  for (let k = 0; k < text.length; k++) {
    const c = text[k]
    if (c !== '\\') {
      value += c
      escaped.push(false)
      continue
    }
    if (k + 1 >= text.length) throw new RuleSyntaxError(`a term cannot end with an escape character (column ${at + k + 1})`, at + k)
    const next = text[k + 1]
    if (next === 'u') {
      const hex = text.slice(k + 2, k + 6)
      if (hex.length < 4) throw new RuleSyntaxError(`truncated unicode escape sequence at column ${at + k + 1}`, at + k)
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
        throw new RuleSyntaxError(`non-hex character in unicode escape sequence at column ${at + k + 1}`, at + k)
      }
      value += String.fromCharCode(parseInt(hex, 16))
      k += 5
    } else {
      value += next
      k += 1
    }
    escaped.push(true)
  }
  return { value, escaped }
}

/** The value as a glob: unescaped `*` and `?` are wildcards; escaped ones, and `\`, are written `\*`, `\?`, `\\`. */
export function toGlob(value: string, escaped: boolean[]): string {
  let glob = ''
  for (let k = 0; k < value.length; k++) {
    const c = value[k]
    glob += (c === '*' || c === '?') && escaped[k] ? '\\' + c : c === '\\' ? '\\\\' : c
  }
  return glob
}
