/** Levenshtein distance, case-insensitive: `exchang` → `exchange` is 1. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase()
  const t = b.toLowerCase()
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j)
  for (let i = 1; i <= s.length; i++) {
    const current = [i]
    for (let j = 1; j <= t.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[t.length]
}

/**
 * The known names a misspelt one probably meant: those within 2 edits (1 for names of 4 characters or
 * fewer, where 2 edits change half the word), else those that contain it or that it contains (`rule` →
 * `payload_rule`, `metadata_rule`). Empty when nothing is close.
 */
export function closeNames(name: string, known: readonly string[]): string[] {
  const limit = name.length <= 4 ? 1 : 2
  const byDistance = known.map((k) => ({ k, d: editDistance(name, k) })).filter((x) => x.d <= limit)
  if (byDistance.length > 0) {
    const best = Math.min(...byDistance.map((x) => x.d))
    return byDistance.filter((x) => x.d === best).map((x) => x.k)
  }
  const lower = name.toLowerCase()
  if (lower.length < 4) return []
  return known.filter((k) => k.toLowerCase().includes(lower) || (k.length >= 4 && lower.includes(k.toLowerCase())))
}

/** ": did you mean `a`?" / ": did you mean `a` or `b`?", or "" when nothing is close. */
export function didYouMean(name: string, known: readonly string[]): string {
  const close = closeNames(name, known)
  return close.length === 0 ? '' : `: did you mean ${close.map((c) => `"${c}"`).join(' or ')}?`
}
