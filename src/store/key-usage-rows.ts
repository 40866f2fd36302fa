import type { KeyUsageRecord } from './store.js'

/** A key_last_usage row as both SQL backends return it (PostgreSQL gives bigints as strings). */
export interface UsageRow {
  key_id: string
  operation: string
  used_at: number | string
  event_id: string
  request_id: string
}

export function toUsage(r: UsageRow): KeyUsageRecord {
  return { keyId: r.key_id, operation: r.operation, timestamp: Number(r.used_at), eventId: r.event_id, requestId: r.request_id }
}
