import { hash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import type { AuditEvent } from './event.js'

/**
 * The on-disk trail (docs/audit.md):
 *
 * - `trail-NNNNNN.jsonl`: segments of records, one JSON object per line,
 *   `{"sequence":n,"previousHash":"<hex>","event":{...CloudTrail event...}}`. A record's hash is the
 *   SHA-256 of its line's UTF-8 bytes exactly as stored (without the newline), so verifying never
 *   re-serialises anything. The first record's previousHash is 64 zeros; sequence counts from 1
 *   across segments.
 * - `digest-NNNNNN.json` and `digest-NNNNNN.json.sig`: a digest seals the segments written since
 *   the previous one; the signature (hex Ed25519, by the HSM-held audit key) is over the digest
 *   file's exact bytes.
 * - `public-key.pem`: the key that verifies the digests.
 *
 * The segment being written is extended with zero bytes ahead of its records (space reserved, so
 * that a durable append does not also have to make a new file size durable); sealing cuts them
 * off. A record line never contains a zero byte (JSON escapes U+0000), so a segment's content ends
 * at its first zero byte.
 */

/** One parsed trail line. */
export interface TrailRecord {
  sequence: number
  previousHash: string
  event: AuditEvent
}

/** What a digest says about one segment it seals. */
export interface DigestLogFile {
  file: string
  hashValue: string
  hashAlgorithm: 'SHA-256'
  firstSequence: number
  lastSequence: number
  /** Hash of the segment's last record: where the chain stands at the end of the segment. */
  lastRecordHash: string
  oldestEventTime: string
  newestEventTime: string
}

/**
 * Whether every record of a sealed segment is older than `time` (ms since the epoch). Event times
 * are whole seconds, so a record stamped `12:00:01Z` may have come at 12:00:01.999.
 */
export function recordedBefore(segment: DigestLogFile, time: number): boolean {
  return Date.parse(segment.newestEventTime) + 1000 <= time
}

/** A digest file (after CloudTrail's digest files, for a local trail). */
export interface Digest {
  digestVersion: '1'
  digestFile: string
  digestStartTime: string
  digestEndTime: string
  /** Position of the chain when sealed: the last record sealed so far (0 before any) and its hash. */
  lastSequence: number
  lastRecordHash: string
  logFiles: DigestLogFile[]
  previousDigestFile: string | null
  previousDigestHashValue: string | null
  previousDigestHashAlgorithm: 'SHA-256' | null
  previousDigestSignature: string | null
  digestPublicKeyFingerprint: string
  digestSignatureAlgorithm: 'Ed25519'
}

/** previousHash of the first record. */
export const ZERO_HASH = '0'.repeat(64)
export const PUBLIC_KEY_FILE = 'public-key.pem'

export function sha256Hex(data: string | Uint8Array): string {
  // One-shot: no Hash object per record (it is on the request path of every audited call).
  return hash('sha256', data, 'hex')
}

/** The stored line of a record (without its newline). */
export function encodeRecord(sequence: number, previousHash: string, event: AuditEvent): string {
  return JSON.stringify({ sequence, previousHash, event })
}

export const segmentName = (index: number): string => `trail-${String(index).padStart(6, '0')}.jsonl`
export const digestName = (index: number): string => `digest-${String(index).padStart(6, '0')}.json`
export const signatureName = (digestFile: string): string => `${digestFile}.sig`

const SEGMENT = /^trail-(\d{6,})\.jsonl$/
const DIGEST = /^digest-(\d{6,})\.json$/

/** The segment and digest files of a trail directory, each in index order. */
export function listTrail(dir: string): { segments: Array<{ index: number; name: string }>; digests: Array<{ index: number; name: string }> } {
  const segments: Array<{ index: number; name: string }> = []
  const digests: Array<{ index: number; name: string }> = []
  for (const name of readdirSync(dir)) {
    const s = SEGMENT.exec(name)
    if (s) segments.push({ index: Number(s[1]), name })
    const d = DIGEST.exec(name)
    if (d) digests.push({ index: Number(d[1]), name })
  }
  const byIndex = (a: { index: number }, b: { index: number }): number => a.index - b.index
  return { segments: segments.sort(byIndex), digests: digests.sort(byIndex) }
}

/** A segment's text: its bytes up to the first zero byte (the reserved space of a live segment), as UTF-8. */
export function readSegment(path: string): string {
  const bytes = readFileSync(path)
  const end = bytes.indexOf(0)
  return bytes.toString('utf8', 0, end < 0 ? bytes.length : end)
}

/** The lines of a segment's text, without a torn (unterminated) last line. */
export function completeLines(text: string): string[] {
  const end = text.lastIndexOf('\n')
  return end < 0 ? [] : text.slice(0, end).split('\n')
}

/** SHA-256 fingerprint (hex) of a public key in SPKI DER, as digests name it. */
export function fingerprint(spkiDer: Uint8Array): string {
  return sha256Hex(spkiDer)
}
