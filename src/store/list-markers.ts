/**
 * The pagination markers of `Store.listKeys` and `Store.listAliases`, shared by every backend so
 * markers are checked the same way everywhere.
 *
 * A marker is base64url(position ‖ check), where check is 8 bytes of SHA-256 over the listing's scope
 * and the position. Not a MAC: it rejects garbage, truncated or edited markers and markers of another
 * listing (keys vs aliases, another account, region or key filter). A forged marker gains nothing,
 * because every query is scoped to the caller's account and region anyway.
 *
 * Scope parts are NUL-terminated in the hash; they are ids and names that contain no NUL. The key
 * scope hashes to exactly what the first release's key markers did, so those stay valid.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { KmsError } from '../core/errors.js'

/** What a marker is valid for: a listing and its filters. */
export type MarkerScope = readonly string[]

const CHECK_LENGTH = 8
/** Longest marker accepted: the position of an alias marker is an alias name (256 characters at most). */
const MAX_MARKER_LENGTH = 2048

/** The scope of ListKeys markers of one account and region. */
export function keyMarkerScope(accountId: string, region: string): MarkerScope {
  return ['trent/list-keys-marker/v1', accountId, region]
}

/** The scope of ListAliases markers of one account and region, all aliases or those of one key. */
export function aliasMarkerScope(accountId: string, region: string, keyId: string | undefined): MarkerScope {
  return ['trent/list-aliases-marker/v1', accountId, region, keyId === undefined ? 'all' : `key:${keyId}`]
}

function markerCheck(scope: MarkerScope, position: Uint8Array): Buffer {
  const hash = createHash('sha256')
  for (const part of scope) hash.update(`${part}\0`)
  return hash.update(position).digest().subarray(0, CHECK_LENGTH)
}

/** A marker for `position` in `scope`. */
export function encodeMarker(scope: MarkerScope, position: Buffer): string {
  return Buffer.concat([position, markerCheck(scope, position)]).toString('base64url')
}

/** The position of a marker issued for `scope`; throws InvalidMarkerException for anything else. */
export function decodeMarker(scope: MarkerScope, marker: string): Buffer {
  const bytes =
    marker.length <= MAX_MARKER_LENGTH && /^[A-Za-z0-9_-]+$/.test(marker) ? Buffer.from(marker, 'base64url') : undefined
  // The re-encoding check refuses the few strings that decode to the same bytes as an issued marker.
  if (bytes === undefined || bytes.length <= CHECK_LENGTH || bytes.toString('base64url') !== marker) throw invalidMarker()
  const position = bytes.subarray(0, bytes.length - CHECK_LENGTH)
  if (!bytes.subarray(bytes.length - CHECK_LENGTH).equals(markerCheck(scope, position))) throw invalidMarker()
  return position
}

/** A positive sequence number as a position: 8 bytes, big-endian. */
export function encodeSeq(seq: number): Buffer {
  const position = Buffer.alloc(8)
  position.writeBigUInt64BE(BigInt(seq))
  return position
}

/** The sequence number of a position from {@link encodeSeq}; InvalidMarkerException unless 1 ≤ seq ≤ 2^53 − 1. */
export function decodeSeq(position: Buffer): number {
  if (position.length !== 8) throw invalidMarker()
  const seq = position.readBigUInt64BE()
  if (seq < 1n || seq > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidMarker()
  return Number(seq)
}

/** An alias name as a position: its UTF-8 bytes. */
export function encodeAliasName(aliasName: string): Buffer {
  return Buffer.from(aliasName, 'utf8')
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The alias name of a position from {@link encodeAliasName}; InvalidMarkerException unless valid UTF-8. */
export function decodeAliasName(position: Buffer): string {
  try {
    return utf8.decode(position)
  } catch {
    throw invalidMarker()
  }
}

function invalidMarker(): KmsError {
  return new KmsError('InvalidMarkerException', 'Invalid marker')
}

/** The scope of ListGrants markers of one key and its filters. */
export function grantMarkerScope(keyId: string, grantId: string | undefined, granteePrincipal: string | undefined): MarkerScope {
  return ['trent/list-grants-marker/v1', keyId, grantId === undefined ? 'all' : `id:${grantId}`, granteePrincipal === undefined ? 'all' : `grantee:${granteePrincipal}`]
}

/** The scope of ListRetirableGrants markers of one account, region and retiring principal. */
export function retirableGrantMarkerScope(accountId: string, region: string, retiringPrincipal: string): MarkerScope {
  return ['trent/list-retirable-grants-marker/v1', accountId, region, retiringPrincipal]
}
