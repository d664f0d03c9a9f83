import { ERR_VALIDATION } from '../errors.ts'

/** Which dead letters a replay or a discard acts on: exactly one of `id`, `ids` and `all`. */
export interface DeadLetterSelection {
  /** One message: refused HERALD_ERR_NOT_FOUND when the tenant has no such message. */
  id?: number
  ids?: number[]
  /** Every message of the tenant (of `queue`, when given). */
  all?: boolean
  queue?: string
}

/** The ids selected (undefined: all), refused HERALD_ERR_VALIDATION unless exactly one form is given. */
export function selectedIds(selection: DeadLetterSelection): number[] | undefined {
  const given = [selection.all === true, selection.ids !== undefined, selection.id !== undefined].filter(Boolean).length
  if (given !== 1 || selection.ids?.length === 0) throw ERR_VALIDATION('give either "all": true or dead-letter ids')
  if (selection.queue !== undefined && !selection.all) throw ERR_VALIDATION('"queue" selects among all messages: give it with "all": true')
  return selection.id !== undefined ? [selection.id] : selection.ids
}

export const selectionTarget = (s: DeadLetterSelection) => (s.all ? `*${s.queue !== undefined ? ` queue=${s.queue}` : ''}` : (s.id !== undefined ? String(s.id) : (s.ids ?? []).join(',').slice(0, 500)))
