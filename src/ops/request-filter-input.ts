import { ERR_VALIDATION } from '../errors.ts'
import { REQUEST_STATES, type RequestState } from '../notifier/request-listing.ts'

/** A payload field path: 1 to 5 names of [A-Za-z0-9_-], dot-separated (`properties.mission`). */
export const FIELD_PATH = /^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,4}$/

/** The requests listing's filter as an operator gives it (REST query, console, CLI): dates as ISO-8601 text. */
export interface RequestFilterInput {
  state?: string
  recipient?: string
  requestId?: string
  owner?: string
  from?: string
  to?: string
  /** A payload field, compared as text with `value` (both or neither). */
  field?: string
  value?: string
}

/** The same filter once checked: `state` one of the request states. */
export type CheckedRequestFilter = Omit<RequestFilterInput, 'state'> & { state?: RequestState }

/** The filter, checked: refused HERALD_ERR_VALIDATION naming the member at fault. */
export function checkRequestFilter(input: RequestFilterInput): CheckedRequestFilter {
  const { state, field, value, from, to } = input
  if (state !== undefined && !REQUEST_STATES.includes(state as RequestState)) throw ERR_VALIDATION(`state must be one of ${REQUEST_STATES.join(', ')}`)
  if ((field === undefined) !== (value === undefined)) throw ERR_VALIDATION('give "field" and "value" together: the payload field and the value it must have')
  if (field !== undefined && !FIELD_PATH.test(field)) {
    throw ERR_VALIDATION(`field "${field.slice(0, 80)}" must be 1 to 5 names of letters, digits, _ or -, separated by dots (properties.mission)`)
  }
  for (const [name, date] of [['from', from], ['to', to]] as const) {
    if (date !== undefined && Number.isNaN(Date.parse(date))) throw ERR_VALIDATION(`${name} must be an ISO-8601 date, not "${date.slice(0, 40)}"`)
  }
  const checked: CheckedRequestFilter = { ...input, state: state as RequestState | undefined }
  for (const key of Object.keys(checked) as (keyof CheckedRequestFilter)[]) if (checked[key] === undefined) delete checked[key]
  return checked
}
