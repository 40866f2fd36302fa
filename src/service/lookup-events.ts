import { KmsError } from '../core/errors.js'
import type { AuditEvent } from '../audit/event.js'
import { matches, type EventFilter } from '../audit/query.js'
import type { Caller, ServiceDeps } from './deps.js'

/** CloudTrail's LookupAttributes keys, and the filter each becomes. */
const ATTRIBUTES: Readonly<Record<string, (value: string) => EventFilter | ((e: AuditEvent) => boolean)>> = {
  EventId: (v) => ({ eventId: v }),
  EventName: (v) => ({ eventName: v }),
  AccessKeyId: (v) => ({ accessKeyId: v }),
  Username: (v) => (e) => usernameOf(e) === v,
  ResourceName: (v) => ({ key: v }),
  ResourceType: (v) => (e) => (e.resources ?? []).some((r) => r.type === v),
  EventSource: (v) => (e) => e.eventSource === v,
  ReadOnly: (v) => (e) => String(e.readOnly) === v,
  ErrorCode: (v) => ({ errorCode: v }),
}

const MAX_RESULTS = 50

/** One event as CloudTrail's LookupEvents returns it. */
interface LookedUpEvent {
  EventId: string
  EventName: string
  ReadOnly: string
  AccessKeyId?: string
  EventTime: number
  EventSource: string
  Username?: string
  Resources: Array<{ ResourceType: string; ResourceName: string }>
  CloudTrailEvent: string
}

/**
 * `TrentAdmin.LookupEvents`, after CloudTrail's LookupEvents: the account root reads its account's
 * audit events (as caller, or as owner of a key used), newest first, up to 50 a page, filtered by
 * LookupAttributes (all must match), StartTime and EndTime (epoch seconds, inclusive).
 */
export async function lookupEvents(deps: ServiceDeps, caller: Caller, input: unknown): Promise<{ Events: LookedUpEvent[]; NextToken?: string }> {
  if (caller.user || caller.role || caller.principalArn !== `arn:${deps.partition}:iam::${caller.accountId}:root`) {
    throw new KmsError('AccessDeniedException', `User: ${caller.principalArn} is not authorized to perform: trent:LookupEvents`)
  }
  const o = (typeof input === 'object' && input !== null && !Array.isArray(input) ? input : {}) as Record<string, unknown>
  const filters: Array<(e: AuditEvent) => boolean> = []
  const base: EventFilter = { accountId: caller.accountId }
  const attributes = o['LookupAttributes'] ?? []
  if (!Array.isArray(attributes)) throw new KmsError('ValidationException', 'LookupAttributes must be a list') // Guessed wording
  for (const a of attributes as unknown[]) {
    const { AttributeKey: key, AttributeValue: value } = (a ?? {}) as Record<string, unknown>
    const make = typeof key === 'string' && Object.hasOwn(ATTRIBUTES, key) ? ATTRIBUTES[key] : undefined
    if (!make || typeof value !== 'string') {
      // Guessed wording
      throw new KmsError('ValidationException', `Invalid lookup attribute: AttributeKey must be one of ${Object.keys(ATTRIBUTES).join(', ')} and AttributeValue a string`)
    }
    const f = make(value)
    filters.push(typeof f === 'function' ? f : (e) => matches(e, f))
  }
  for (const [name, field] of [['StartTime', 'startTime'], ['EndTime', 'endTime']] as const) {
    const v = o[name]
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new KmsError('ValidationException', `${name} must be a timestamp`) // Guessed wording
    base[field] = v * 1000
  }
  if (base.startTime !== undefined && base.endTime !== undefined && base.startTime > base.endTime) {
    throw new KmsError('ValidationException', 'Start time must not be after end time') // Guessed wording
  }
  const max = o['MaxResults'] ?? MAX_RESULTS
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > MAX_RESULTS) {
    throw new KmsError('ValidationException', `MaxResults must be an integer between 1 and ${MAX_RESULTS}`) // Guessed wording
  }
  const token = o['NextToken']
  let below = Number.POSITIVE_INFINITY
  if (token !== undefined) {
    below = typeof token === 'string' && /^\d+$/.test(Buffer.from(token, 'base64url').toString()) ? Number(Buffer.from(token, 'base64url').toString()) : Number.NaN
    if (!Number.isSafeInteger(below)) throw new KmsError('ValidationException', 'Invalid NextToken') // Guessed wording
  }

  // Newest first; one match beyond the page tells whether there is a next one.
  const page: Array<{ sequence: number; event: AuditEvent }> = []
  let more = false
  for (const r of deps.audit?.recordsNewestFirst() ?? []) {
    if (r.sequence >= below || !matches(r.event, base) || !filters.every((f) => f(r.event))) continue
    if (page.length === max) {
      more = true
      break
    }
    page.push(r)
  }
  const last = page.at(-1)
  return {
    Events: page.map((r) => lookedUp(r.event)),
    ...(more && last ? { NextToken: Buffer.from(String(last.sequence)).toString('base64url') } : {}),
  }
}

function usernameOf(e: AuditEvent): string | undefined {
  const id = e.userIdentity
  if (id.type === 'Root') return 'root'
  if (id.type === 'AssumedRole') return id.arn?.split('/').at(-1)
  return id.userName
}

function lookedUp(e: AuditEvent): LookedUpEvent {
  const username = usernameOf(e)
  return {
    EventId: e.eventID,
    EventName: e.eventName,
    ReadOnly: String(e.readOnly),
    ...(e.userIdentity.accessKeyId ? { AccessKeyId: e.userIdentity.accessKeyId } : {}),
    EventTime: Date.parse(e.eventTime) / 1000,
    EventSource: e.eventSource,
    ...(username ? { Username: username } : {}),
    Resources: (e.resources ?? []).map((r) => ({ ResourceType: r.type, ResourceName: r.ARN })),
    CloudTrailEvent: JSON.stringify(e),
  }
}
