import { join } from 'node:path'
import type { AuditEvent } from './event.js'
import { completeLines, listTrail, readSegment, type TrailRecord } from './format.js'

/** Which events to return; every field set must match. */
export interface EventFilter {
  /** A key id or key ARN among the event's resources (or its requestParameters.keyId). */
  key?: string
  /** The caller: principal ARN, user name, principal id or access key id. */
  principal?: string
  eventName?: string
  errorCode?: string
  eventId?: string
  accessKeyId?: string
  /** Events of this account: as the caller's account or as the owner of a key it used. */
  accountId?: string
  /** Milliseconds since the epoch, inclusive. */
  startTime?: number
  /** Milliseconds since the epoch, inclusive. */
  endTime?: number
}

/** Every complete record of a trail directory, oldest first (a record being written is skipped). */
export function* readRecords(dir: string): Generator<TrailRecord> {
  for (const s of listTrail(dir).segments) {
    for (const line of segmentLines(dir, s.name)) {
      try {
        yield JSON.parse(line) as TrailRecord
      } catch {
        // Not a record (verify names it); queries skip it.
      }
    }
  }
}

/**
 * Every complete record of a trail directory, newest first, reading one segment at a time, so a
 * lookup of recent events stops early instead of reading the whole trail.
 */
export function* readRecordsNewestFirst(dir: string): Generator<TrailRecord> {
  for (const s of listTrail(dir).segments.reverse()) {
    const lines = segmentLines(dir, s.name)
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        yield JSON.parse(lines[i]!) as TrailRecord
      } catch {
        // Not a record (verify names it); queries skip it.
      }
    }
  }
}

/** A segment's complete lines; none when it was pruned since the directory was listed. */
function segmentLines(dir: string, name: string): string[] {
  try {
    return completeLines(readSegment(join(dir, name)))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
}

/** Whether `event` passes `filter`. */
export function matches(event: AuditEvent, filter: EventFilter): boolean {
  const id = event.userIdentity
  if (filter.eventName !== undefined && event.eventName !== filter.eventName) return false
  if (filter.errorCode !== undefined && event.errorCode !== filter.errorCode) return false
  if (filter.eventId !== undefined && event.eventID !== filter.eventId) return false
  if (filter.accessKeyId !== undefined && id.accessKeyId !== filter.accessKeyId) return false
  if (filter.principal !== undefined && ![id.arn, id.userName, id.principalId, id.accessKeyId].includes(filter.principal)) return false
  if (filter.accountId !== undefined && event.recipientAccountId !== filter.accountId && id.accountId !== filter.accountId) return false
  if (filter.key !== undefined) {
    const k = filter.key
    const named = event.requestParameters?.['keyId'] === k
    if (!named && !(event.resources ?? []).some((r) => r.ARN === k || r.ARN.endsWith(`:key/${k}`))) return false
  }
  if (filter.startTime !== undefined || filter.endTime !== undefined) {
    const t = Date.parse(event.eventTime)
    if (filter.startTime !== undefined && t < filter.startTime) return false
    if (filter.endTime !== undefined && t > filter.endTime) return false
  }
  return true
}
