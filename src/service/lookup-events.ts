import { KmsError } from '../core/errors.js'
import { parseInput, t } from '../core/shape.js'
import type { AuditEvent } from '../audit/event.js'
import { matches, type EventFilter } from '../audit/query.js'
import type { Caller, ServiceDeps } from './deps.js'

/** CloudTrail's LookupAttributes keys, and the filter each becomes. */
const ATTRIBUTES = {
  EventId: (v) => ({ eventId: v }),
  EventName: (v) => ({ eventName: v }),
  AccessKeyId: (v) => ({ accessKeyId: v }),
  Username: (v) => (e) => usernameOf(e) === v,
  ResourceName: (v) => ({ key: v }),
  ResourceType: (v) => (e) => (e.resources ?? []).some((r) => r.type === v),
  EventSource: (v) => (e) => e.eventSource === v,
  ReadOnly: (v) => (e) => String(e.readOnly) === v,
  ErrorCode: (v) => ({ errorCode: v }),
} satisfies Record<string, (value: string) => EventFilter | ((e: AuditEvent) => boolean)>

const MAX_RESULTS = 50

/** CloudTrail's LookupEvents input (its API model), with our extra ErrorCode attribute. */
const LOOKUP_EVENTS_INPUT = t.structure({
  LookupAttributes: t.optional(
    t.list(
      t.structure({
        AttributeKey: t.required(t.enum(Object.keys(ATTRIBUTES) as Array<keyof typeof ATTRIBUTES>)),
        AttributeValue: t.required(t.string({ min: 1, max: 2000 })),
      }),
    ),
  ),
  StartTime: t.optional(t.timestamp()),
  EndTime: t.optional(t.timestamp()),
  MaxResults: t.optional(t.integer({ min: 1, max: MAX_RESULTS })),
  NextToken: t.optional(t.string()),
})

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
  const o = parseInput(LOOKUP_EVENTS_INPUT, input ?? {})
  const filters: Array<(e: AuditEvent) => boolean> = []
  const base: EventFilter = { accountId: caller.accountId }
  for (const { AttributeKey: key, AttributeValue: value } of o.LookupAttributes ?? []) {
    const f = ATTRIBUTES[key](value)
    filters.push(typeof f === 'function' ? f : (e) => matches(e, f))
  }
  if (o.StartTime !== undefined) base.startTime = o.StartTime
  if (o.EndTime !== undefined) base.endTime = o.EndTime
  // CloudTrail's exceptions for these two (its API model); guessed wording.
  if (base.startTime !== undefined && base.endTime !== undefined && base.startTime > base.endTime) {
    throw new KmsError('InvalidTimeRangeException', 'Start time must not be after end time')
  }
  const max = o.MaxResults ?? MAX_RESULTS
  let below = Number.POSITIVE_INFINITY
  if (o.NextToken !== undefined) {
    const decoded = Buffer.from(o.NextToken, 'base64url').toString()
    below = /^\d+$/.test(decoded) ? Number(decoded) : Number.NaN
    if (!Number.isSafeInteger(below)) throw new KmsError('InvalidNextTokenException', 'Invalid NextToken')
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
