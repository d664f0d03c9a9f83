/**
 * REGARDS evaluates `field:/re/` with `java.util.regex.Pattern.compile(re).matcher(value).matches()`: a
 * Java regular expression that must match the whole value. This module translates the common subset of
 * Java's syntax to a JavaScript RegExp with the same meaning and rejects, at configuration time, what it
 * cannot translate faithfully (possessive quantifiers, atomic groups, inline flags, `\p{…}`, nested or
 * intersected classes …), so a rule never silently means something else in Herald.
 *
 * Regex safety (ReDoS): patterns are rejected at compile time when a repeated group contains something
 * that can match in several ways, i.e. a quantifier whose minimum and maximum differ, or an alternation —
 * `(a+)+`, `(a|aa)*`, `(a?){20}`, `(\w+\s?)*` — the shapes that make a backtracking engine exponential.
 * That is conservative (it also rejects the harmless `(ab|cd)+`) but simple to explain and to check; the
 * error message says how to rewrite. Polynomial patterns such as `.*a.*a.*` remain allowed: V8's
 * linear-time engine takes them over when they backtrack (linear-regex.ts).
 *
 * The translation also says whether V8's linear-time engine can run the pattern, and if not, which
 * construct keeps it out (look-around, back-reference, a counted repetition too large to unroll): such a
 * pattern is evaluated off the event loop under a deadline (rule-workers.ts).
 */
import { linearEngineCanRun } from './linear-regex.ts'

export class RegexTranslationError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message)
    this.name = 'RegexTranslationError'
  }
}

/** JS syntax characters, which keep their backslash when escaped. */
const SYNTAX = new Set([...'^$\\.*+?()[]{}|/-'])
const KEPT_ESCAPES = new Set([...'dDsSwWtnrf'])

interface Frame {
  /** Something inside can match in more than one way (a variable quantifier or an alternation). */
  variable: boolean
  start: number
}

export interface JavaRegex {
  re: RegExp
  /** Why V8's linear-time engine cannot run the pattern (the construct and its offset); undefined when it can. */
  notLinear: string | undefined
}

/** A construct V8's linear-time engine may refuse, met while translating. */
interface Construct {
  what: string
  offset: number
  /** Look-arounds and back-references are always refused (Infinity); a counted repetition by its count. */
  weight: number
}

/**
 * @example compileJavaRegex('L[1-3]_RAD_GD[A-Z]').test('L2_RAD_GDR') // true (whole-value match)
 * @throws RegexTranslationError with the offset (in `pattern`) of the construct it rejects.
 */
export function compileJavaRegex(pattern: string): RegExp {
  return translateJavaRegex(pattern).re
}

/**
 * @example translateJavaRegex('(?=a).*b').notLinear // 'look-ahead "(?=" at offset 0'
 * @throws RegexTranslationError with the offset (in `pattern`) of the construct it rejects.
 */
export function translateJavaRegex(pattern: string): JavaRegex {
  const constructs: Construct[] = []
  const source = `^(?:${translate(pattern, constructs)})$`
  let re: RegExp
  try {
    re = new RegExp(source)
  } catch (e) {
    throw new RegexTranslationError(`invalid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`, 0)
  }
  if (linearEngineCanRun(source)) return { re, notLinear: undefined }
  // V8 only says "cannot be executed in linear time": name the construct, the one always refused first.
  const blamed = constructs.reduce<Construct | undefined>((a, c) => (a && a.weight >= c.weight ? a : c), undefined)
  return { re, notLinear: blamed ? `${blamed.what} at offset ${blamed.offset}` : 'construct outside V8\'s linear-time subset' }
}

const LOOKAROUNDS: Record<string, string> = { '(?=': 'look-ahead', '(?!': 'negative look-ahead', '(?<=': 'look-behind', '(?<!': 'negative look-behind' }

function translate(p: string, constructs: Construct[]): string {
  let out = ''
  const stack: Frame[] = [{ variable: false, start: 0 }]
  // What the next quantifier applies to: a group that just closed (with its frame), or a single atom.
  let lastAtom: { group: Frame | null } | null = null
  let i = 0
  while (i < p.length) {
    const c = p[i]
    if (c === '\\') {
      const [text, next] = translateEscape(p, i, false)
      if (/^\\[1-9]$/.test(text)) constructs.push({ what: `back-reference "${text}"`, offset: i, weight: Infinity })
      out += text
      i = next
      lastAtom = { group: null }
    } else if (c === '[') {
      const [text, next] = translateClass(p, i)
      out += text
      i = next
      lastAtom = { group: null }
    } else if (c === '(') {
      const [text, next] = translateGroupOpen(p, i)
      if (LOOKAROUNDS[text]) constructs.push({ what: `${LOOKAROUNDS[text]} "${text}"`, offset: i, weight: Infinity })
      out += text
      i = next
      stack.push({ variable: false, start: i })
      lastAtom = null
    } else if (c === ')') {
      if (stack.length === 1) throw new RegexTranslationError(`unmatched ")" at offset ${i}`, i)
      const frame = stack.pop()!
      if (frame.variable) stack[stack.length - 1].variable = true
      out += ')'
      i++
      lastAtom = { group: frame }
    } else if (c === '|') {
      stack[stack.length - 1].variable = true
      out += '|'
      i++
      lastAtom = null
    } else if (c === '*' || c === '+' || c === '?' || c === '{') {
      const q = readQuantifier(p, i)
      if (!q) throw new RegexTranslationError(`"{" at offset ${i} does not start a valid quantifier: escape it as \\{`, i)
      if (!lastAtom) throw new RegexTranslationError(`quantifier "${p.slice(i, q.end)}" at offset ${i} has nothing to repeat`, i)
      if (p[q.end] === '+') throw new RegexTranslationError(`possessive quantifier "${p.slice(i, q.end + 1)}" at offset ${i} is not supported`, i)
      const repeats = q.max > 1
      if (repeats && lastAtom.group?.variable) {
        throw new RegexTranslationError(
          `the group repeated by "${p.slice(i, q.end)}" at offset ${i} contains a quantifier or an alternation: ` +
            'nested repetition can backtrack catastrophically, rewrite it without the inner repetition (e.g. (a+)+ as a+)',
          i,
        )
      }
      if (q.min !== q.max) stack[stack.length - 1].variable = true
      // V8's linear engine unrolls counted repetitions and gives up beyond a small size ({17} already).
      if (p[i] === '{') constructs.push({ what: `counted repetition "${p.slice(i, q.end)}"`, offset: i, weight: q.max === Infinity ? q.min : q.max })
      let end = q.end
      if (p[end] === '?') end++ // lazy: same syntax and meaning in JS
      out += p.slice(i, end)
      i = end
      lastAtom = null
    } else {
      out += c === '/' ? '\\/' : c
      i++
      lastAtom = c === '^' || c === '$' ? null : { group: null }
    }
  }
  if (stack.length > 1) throw new RegexTranslationError(`unclosed group opened at offset ${stack[stack.length - 1].start - 1}`, stack[stack.length - 1].start - 1)
  return out
}

function readQuantifier(p: string, i: number): { min: number; max: number; end: number } | null {
  const c = p[i]
  if (c === '*') return { min: 0, max: Infinity, end: i + 1 }
  if (c === '+') return { min: 1, max: Infinity, end: i + 1 }
  if (c === '?') return { min: 0, max: 1, end: i + 1 }
  const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i))
  if (!m) return null
  const min = Number(m[1])
  const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3])
  if (max < min) throw new RegexTranslationError(`quantifier ${m[0]} at offset ${i} has its maximum below its minimum`, i)
  return { min, max, end: i + m[0].length }
}

function translateGroupOpen(p: string, i: number): [string, number] {
  if (p[i + 1] !== '?') return ['(', i + 1]
  for (const prefix of ['(?:', '(?=', '(?!', '(?<=', '(?<!']) if (p.startsWith(prefix, i)) return [prefix, i + prefix.length]
  const named = /^\(\?<([a-zA-Z][a-zA-Z0-9]*)>/.exec(p.slice(i))
  if (named) return [named[0], i + named[0].length]
  throw new RegexTranslationError(
    `group "${p.slice(i, i + 4)}…" at offset ${i} (inline flags or atomic group) is not supported; use (?:…), lookarounds or (?<name>…)`,
    i,
  )
}

/** `\x` outside or inside a class. Returns the JS text and the offset after the escape. */
function translateEscape(p: string, i: number, inClass: boolean): [string, number] {
  const c = p[i + 1]
  if (c === undefined) throw new RegexTranslationError(`the regular expression ends with a backslash`, i)
  if (KEPT_ESCAPES.has(c)) return ['\\' + c, i + 2]
  if (c === 'b' || c === 'B') {
    if (inClass) throw new RegexTranslationError(`"\\${c}" inside a character class at offset ${i} is not supported`, i)
    return ['\\' + c, i + 2]
  }
  if (c >= '1' && c <= '9' && !inClass) return ['\\' + c, i + 2]
  if (c === '0') {
    // Java octal: \0n, \0nn, \0mnn (m <= 3).
    const m = /^[0-7]{1,3}/.exec(p.slice(i + 2))
    let digits = m ? m[0] : ''
    if (digits.length === 3 && digits[0] > '3') digits = digits.slice(0, 2)
    if (!digits) throw new RegexTranslationError(`illegal octal escape "\\0" at offset ${i}`, i)
    return [hexEscape(parseInt(digits, 8)), i + 2 + digits.length]
  }
  if (c === 'x') {
    const m = /^[0-9a-fA-F]{2}/.exec(p.slice(i + 2))
    if (m) return ['\\x' + m[0], i + 4]
    const braced = /^\{([0-9a-fA-F]{1,4})\}/.exec(p.slice(i + 2))
    if (braced) return [hexEscape(parseInt(braced[1], 16)), i + 2 + braced[0].length]
    throw new RegexTranslationError(`unsupported hexadecimal escape at offset ${i}`, i)
  }
  if (c === 'u') {
    const m = /^[0-9a-fA-F]{4}/.exec(p.slice(i + 2))
    if (!m) throw new RegexTranslationError(`illegal unicode escape at offset ${i}`, i)
    return ['\\u' + m[0], i + 6]
  }
  if (c === 'c') {
    const x = p[i + 2]
    if (x === undefined || !/[a-zA-Z]/.test(x)) throw new RegexTranslationError(`unsupported control escape at offset ${i}`, i)
    return ['\\c' + x, i + 3]
  }
  if (c === 'a') return ['\\x07', i + 2]
  if (c === 'e') return ['\\x1B', i + 2]
  if (c === 'Q') {
    const end = p.indexOf('\\E', i + 2)
    const literal = p.slice(i + 2, end < 0 ? p.length : end)
    return [[...literal].map((ch) => escapeLiteral(ch, inClass)).join(''), end < 0 ? p.length : end + 2]
  }
  if (/[a-zA-Z0-9]/.test(c)) {
    throw new RegexTranslationError(`escape "\\${c}" at offset ${i} is not supported (Java-only or invalid): write the characters it stands for`, i)
  }
  return [escapeLiteral(c, inClass), i + 2]
}

function escapeLiteral(c: string, inClass: boolean): string {
  if (SYNTAX.has(c)) return '\\' + c
  // In a class, Java's plain "[" would open a nested class; escaped it is a literal bracket.
  return inClass && c === '[' ? '\\[' : c
}

function hexEscape(code: number): string {
  return code <= 0xff ? '\\x' + code.toString(16).padStart(2, '0') : '\\u' + code.toString(16).padStart(4, '0')
}

/** `[…]`: Java allows nested classes (`[a[b]]`, union) and intersections (`&&`), which JS lacks. */
function translateClass(p: string, i: number): [string, number] {
  let out = '['
  let j = i + 1
  if (p[j] === '^') {
    out += '^'
    j++
  }
  if (p[j] === ']') throw new RegexTranslationError(`"]" first in the character class at offset ${i} is not supported: escape it as \\]`, j)
  while (j < p.length && p[j] !== ']') {
    const c = p[j]
    if (c === '\\') {
      const [text, next] = translateEscape(p, j, true)
      out += text
      j = next
    } else if (c === '[') {
      throw new RegexTranslationError(`nested character class at offset ${j} is not supported: escape "[" as \\[ or merge the classes`, j)
    } else if (c === '&' && p[j + 1] === '&') {
      throw new RegexTranslationError(`character class intersection "&&" at offset ${j} is not supported`, j)
    } else {
      out += c === '/' ? '\\/' : c
      j++
    }
  }
  if (j >= p.length) throw new RegexTranslationError(`unclosed character class opened at offset ${i}`, i)
  return [out + ']', j + 1]
}
