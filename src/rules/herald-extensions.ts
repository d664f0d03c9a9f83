/**
 * Leaf predicates for Herald's extensions to REGARDS' rule syntax (parameter `herald_extensions: true`):
 * numeric, date and string ranges, and `*`/`?` wildcards. REGARDS rejects ranges and compares `L2*`
 * literally; these predicates only run in rules that opted in. Semantics are documented in docs/rules.md.
 */
import type { RangeNode } from './lucene-ast.ts'
import { isPrimitive, primitiveString } from './json-values.ts'

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/
// ISO 8601 date or date-time; a date-time without offset is read as UTC (Date.parse would use local time).
const ISO_DATE = /^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/
const DAY_MS = 86_400_000

export type RangeType = 'number' | 'date' | 'string' | 'any'

/** Numeric when every closed bound is a number, a date when every closed bound is an ISO date, else text. */
export function rangeType(node: Pick<RangeNode, 'lower' | 'upper'>): RangeType {
  const bounds = [node.lower, node.upper].filter((b): b is string => b !== null)
  if (bounds.length === 0) return 'any'
  if (bounds.every((b) => NUMBER.test(b))) return 'number'
  if (bounds.every((b) => parseIsoDate(b) !== null)) return 'date'
  return 'string'
}

/** Epoch milliseconds of an ISO date or date-time, and whether it was a date alone. */
export function parseIsoDate(text: string): { ms: number; dateOnly: boolean } | null {
  const m = ISO_DATE.exec(text)
  if (!m) return null
  const dateOnly = m[2] === undefined
  const ms = Date.parse(dateOnly ? m[1] : m[5] ? text : text + 'Z')
  return Number.isNaN(ms) ? null : { ms, dateOnly }
}

/**
 * Builds `value => in range` for one leaf value. Numbers match JSON numbers; dates match strings holding
 * an ISO date; text ranges compare strings by UTF-16 code units. A date-only bound stands for the whole
 * day: `[2020-01-01 TO 2020-12-31]` includes 2020-12-31T23:59:59Z.
 */
export function rangePredicate(node: RangeNode): (leaf: unknown) => boolean {
  const type = rangeType(node)
  if (type === 'any') return isPrimitive
  if (type === 'number') {
    const lo = node.lower === null ? -Infinity : Number(node.lower)
    const hi = node.upper === null ? Infinity : Number(node.upper)
    return within(node, lo, hi, (leaf) => (typeof leaf === 'number' ? leaf : typeof leaf === 'bigint' ? Number(leaf) : undefined))
  }
  if (type === 'date') {
    const lo = node.lower === null ? -Infinity : dayBound(node.lower, node.lowerInclusive ? 'start' : 'end')
    const hi = node.upper === null ? Infinity : dayBound(node.upper, node.upperInclusive ? 'end' : 'start')
    return within(node, lo, hi, (leaf) => (typeof leaf === 'string' ? parseIsoDate(leaf)?.ms : undefined))
  }
  const lo = node.lower ?? ''
  const hi = node.upper
  return (leaf) => {
    if (typeof leaf !== 'string') return false
    const aboveLo = node.lower === null || (node.lowerInclusive ? leaf >= lo : leaf > lo)
    return aboveLo && (hi === null || (node.upperInclusive ? leaf <= hi : leaf < hi))
  }
}

/** A date-only bound denotes a whole day: its first or its last millisecond, depending on the side. */
function dayBound(text: string, side: 'start' | 'end'): number {
  const d = parseIsoDate(text)!
  return d.dateOnly && side === 'end' ? d.ms + DAY_MS - 1 : d.ms
}

function within(node: RangeNode, lo: number, hi: number, read: (leaf: unknown) => number | undefined) {
  const loInc = node.lowerInclusive
  const hiInc = node.upperInclusive
  return (leaf: unknown): boolean => {
    const v = read(leaf)
    if (v === undefined || Number.isNaN(v)) return false
    return (loInc ? v >= lo : v > lo) && (hiInc ? v <= hi : v < hi)
  }
}

/** True when a glob (as `TermNode.glob` writes it) has at least one wildcard. */
export function hasWildcard(glob: string): boolean {
  for (let k = 0; k < glob.length; k++) {
    const c = glob[k]
    if (c === '\\') k++
    else if (c === '*' || c === '?') return true
  }
  return false
}

const STAR = 0
const ONE = 1

/**
 * Wildcard match of a whole primitive value: `*` any sequence, `?` one character (code point). The
 * classic two-pointer algorithm with one backtrack point: O(pattern × value), no regex, so no ReDoS.
 */
export function globPredicate(glob: string): (leaf: unknown) => boolean {
  const pattern: (string | typeof STAR | typeof ONE)[] = []
  const chars = Array.from(glob)
  for (let k = 0; k < chars.length; k++) {
    const c = chars[k]
    if (c === '\\') pattern.push(chars[++k])
    else pattern.push(c === '*' ? STAR : c === '?' ? ONE : c)
  }
  return (leaf) => {
    if (!isPrimitive(leaf)) return false
    const s = Array.from(primitiveString(leaf))
    let si = 0
    let pi = 0
    let starP = -1
    let starS = 0
    while (si < s.length) {
      const p = pattern[pi]
      if (pi < pattern.length && (p === ONE || p === s[si])) {
        si++
        pi++
      } else if (p === STAR) {
        starP = pi++
        starS = si
      } else if (starP >= 0) {
        pi = starP + 1
        si = ++starS
      } else return false
    }
    while (pattern[pi] === STAR) pi++
    return pi === pattern.length
  }
}
