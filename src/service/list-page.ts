import { KmsError } from '../core/errors.js'

const PREFIX = 'off:'

/**
 * One page of a short list that lives inside a key record (tags, policy names). The marker is the
 * offset of the next item; anything else is refused as AWS refuses a marker it did not issue.
 */
export function pageOf<T>(items: readonly T[], limit: number, marker?: string): { items: T[]; more: { NextMarker?: string; Truncated: boolean } } {
  let start = 0
  if (marker !== undefined) {
    const decoded = Buffer.from(marker, 'base64url').toString('utf8')
    const n = decoded.startsWith(PREFIX) ? Number(decoded.slice(PREFIX.length)) : NaN
    if (!Number.isInteger(n) || n < 0 || Buffer.from(`${PREFIX}${n}`).toString('base64url') !== marker) {
      throw new KmsError('InvalidMarkerException', 'Invalid marker')
    }
    start = n
  }
  const end = start + limit
  const page = items.slice(start, end)
  return end < items.length
    ? { items: page, more: { NextMarker: Buffer.from(`${PREFIX}${end}`).toString('base64url'), Truncated: true } }
    : { items: page, more: { Truncated: false } }
}
