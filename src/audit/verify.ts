import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { completeLines, fingerprint, listTrail, readSegment, recordedBefore, sha256Hex, signatureName, ZERO_HASH, type Digest, type DigestLogFile, type TrailRecord } from './format.js'

/** The outcome of {@link verifyTrail}. */
export interface VerifyResult {
  ok: boolean
  /** What is wrong, the first finding first. Empty when ok. */
  problems: string[]
  /** The first record found bad or missing, when the findings point at one. */
  firstBad?: { file: string; line: number; sequence: number }
  records: number
  digests: number
  /** Records after the last digest: chained, but not yet sealed (see docs/audit.md). */
  unsealedRecords: number
  /** The newest segment ends in a partly written line (a crash during an append; never acknowledged). */
  tornTail: boolean
  /** Records of the oldest segments, sealed before `since` and removed (`trent audit prune`); not checked. */
  prunedRecords: number
}

/** Options of {@link verifyTrail}. */
export interface VerifyOptions {
  /**
   * Check only what was recorded from this time on (milliseconds since the epoch): the oldest
   * sealed segments whose newest record is older may be gone. The chain is still checked to go on
   * from where the digests say the last of them ended.
   */
  since?: number
}

interface Link {
  file: string
  line: number
  sequence: number
  previousHash: string
  hash: string
}

/**
 * Proves a trail directory was not edited, deleted, truncated, reordered or forged: every record
 * follows its predecessor (sequence and hash chain), every digest is signed by `publicKey` (PEM or
 * SPKI DER) and chains to the previous digest, and every sealed segment still hashes to what its
 * digest says. Needs only the files and the public key.
 *
 * Records after the last digest are checked for order and chaining only: until a digest seals
 * them, dropping or rewriting the newest of them cannot be told from a trail that ends earlier.
 */
export function verifyTrail(dir: string, publicKey: string | Uint8Array, options: VerifyOptions = {}): VerifyResult {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' })
  const { segments, digests } = listTrail(dir)
  const pruned = prunedPrefix(dir, digests, segments, options.since)
  const prunedFiles = new Set(pruned.map((f) => f.file))
  const start = pruned.at(-1)
  const prunedRecords = start?.lastSequence ?? 0
  const problems: string[] = []
  let firstBad: VerifyResult['firstBad']
  const bad = (message: string, at?: { file: string; line: number; sequence: number }): void => {
    problems.push(message)
    if (at && !firstBad) firstBad = { file: at.file, line: at.line, sequence: at.sequence }
  }

  // What the digests say they seal (their signatures are checked further down).
  const sealedFiles = digests.flatMap((d) => parseDigest(readFileSync(join(dir, d.name), 'utf8'))?.logFiles ?? [])

  // Records: one chain across all segments.
  const links: Link[] = []
  const bySegment = new Map<string, Link[]>()
  let recordProblem = false
  let tornTail = false
  for (const s of segments) {
    const text = readSegment(join(dir, s.name))
    const lines = completeLines(text)
    const own: Link[] = []
    bySegment.set(s.name, own)
    for (const [i, line] of lines.entries()) {
      if (recordProblem) break
      const expected = prunedRecords + links.length + 1
      const at = { file: s.name, line: i + 1, sequence: expected }
      const record = parseRecord(line)
      if (!record) {
        bad(`${s.name}:${i + 1}: not a trail record (record ${expected} expected)`, at)
        recordProblem = true
        break
      }
      if (record.sequence !== expected) {
        bad(
          record.sequence > expected
            ? `${s.name}:${i + 1}: record ${expected} is missing (found record ${record.sequence})`
            : `${s.name}:${i + 1}: records out of order (found record ${record.sequence} where record ${expected} belongs)`,
          at,
        )
        recordProblem = true
        break
      }
      const link = { file: s.name, line: i + 1, sequence: record.sequence, previousHash: record.previousHash, hash: sha256Hex(line) }
      links.push(link)
      own.push(link)
    }
    // A torn last line at the very end is an append a crash interrupted: never acknowledged (only
    // synced records are), so it is no sign of tampering; the next start of the server cuts it off.
    if (s === segments.at(-1) && !text.endsWith('\n')) tornTail = text.length > 0
    else if (!recordProblem && text.length > 0 && !text.endsWith('\n')) {
      bad(`${s.name}: ends in an incomplete record (after record ${links.length})`, { file: s.name, line: lines.length + 1, sequence: links.length + 1 })
      recordProblem = true
    }
  }
  if (!recordProblem) {
    const sealedHashes = new Map<number, string>()
    for (const f of sealedFiles) sealedHashes.set(f.lastSequence, f.lastRecordHash)
    // Record i is confirmed by the previousHash of record i+1 (or by the digest that sealed it last).
    const confirmed = (i: number): boolean | undefined => {
      const next = links[i + 1]
      const expected = next ? next.previousHash : sealedHashes.get(links[i]!.sequence)
      return expected === undefined ? undefined : expected === links[i]!.hash
    }
    for (let i = 0; i < links.length; i++) {
      const link = links[i]!
      const previous = i === 0 ? (start?.lastRecordHash ?? ZERO_HASH) : links[i - 1]!.hash
      if (link.previousHash === previous) continue
      // Record i-1 altered breaks only this link; record i's own link field altered breaks the next one too.
      const culprit = i > 0 && confirmed(i) !== false ? links[i - 1]! : link
      bad(`${culprit.file}:${culprit.line}: record ${culprit.sequence} was altered (the hash chain breaks between records ${link.sequence - 1} and ${link.sequence})`, culprit)
      recordProblem = true
      break
    }
  }

  // Digests: signed, chained, and sealing exactly the segments on disk. A segment file without a
  // record that no digest names is what a crash between making a segment and its first durable
  // record left (the server removes those it finds after its last digest): nothing to seal.
  const named = new Set(sealedFiles.map((f) => f.file))
  const sealable = segments.filter((s) => named.has(s.name) || (bySegment.get(s.name)?.length ?? 0) > 0)
  const fingerprintHex = fingerprint(new Uint8Array(key.export({ format: 'der', type: 'spki' })))
  let previous: { file: string; hash: string; signature: string } | undefined
  let segmentCursor = 0
  let sealedThrough = 0
  for (const [i, d] of digests.entries()) {
    if (d.index !== i + 1) {
      bad(`${d.name}: digest ${i + 1} is missing`)
      break
    }
    const bytes = readFileSync(join(dir, d.name))
    const sigFile = join(dir, signatureName(d.name))
    const signature = existsSync(sigFile) ? readFileSync(sigFile, 'utf8').trim() : ''
    if (!checkSignature(key, bytes, signature)) {
      bad(`${d.name}: the signature does not verify with the public key (digest altered, replaced or forged)`)
      break
    }
    const digest = parseDigest(bytes.toString('utf8'))
    if (!digest || digest.digestFile !== d.name) {
      bad(`${d.name}: not a digest of this trail`)
      break
    }
    if (digest.digestPublicKeyFingerprint !== fingerprintHex) bad(`${d.name}: names another public key`)
    const chained = previous
      ? digest.previousDigestFile === previous.file && digest.previousDigestHashValue === previous.hash && digest.previousDigestSignature === previous.signature
      : digest.previousDigestFile === null && digest.previousDigestHashValue === null && digest.previousDigestSignature === null
    if (!chained) bad(`${d.name}: does not chain to ${previous ? previous.file : 'the start of the trail'}`)
    for (const f of digest.logFiles) {
      if (prunedFiles.has(f.file)) continue
      const onDisk = sealable[segmentCursor]
      if (!onDisk || onDisk.name !== f.file) {
        bad(`${d.name}: seals ${f.file}, which is missing`, { file: f.file, line: 1, sequence: f.firstSequence })
        segmentCursor = sealable.findIndex((s) => s.name === f.file) + 1 || segmentCursor
        continue
      }
      segmentCursor++
      const own = bySegment.get(f.file) ?? []
      if (sha256Hex(readFileSync(join(dir, f.file))) === f.hashValue) continue
      const lastOwn = own.at(-1)
      if (!lastOwn || lastOwn.sequence < f.lastSequence) {
        const missing = (lastOwn?.sequence ?? f.firstSequence - 1) + 1
        bad(`${f.file}: truncated: ${d.name} sealed records ${f.firstSequence}-${f.lastSequence}, record ${missing} is missing`, {
          file: f.file,
          line: own.length + 1,
          sequence: missing,
        })
      } else {
        bad(`${f.file}: does not match the hash ${d.name} sealed (altered)`)
      }
    }
    sealedThrough = digest.lastSequence
    previous = { file: d.name, hash: sha256Hex(bytes), signature }
  }
  const unsealedSegments = sealable.slice(segmentCursor)
  const unsealedRecords = unsealedSegments.reduce((n, s) => n + (bySegment.get(s.name)?.length ?? 0), 0)
  const sealedPresent = prunedRecords + links.length - unsealedRecords
  if (!recordProblem && sealedPresent < sealedThrough) {
    bad(`records ${sealedPresent + 1}-${sealedThrough} were sealed but are missing`)
  }
  return {
    ok: problems.length === 0,
    problems,
    ...(firstBad ? { firstBad } : {}),
    records: links.length,
    digests: digests.length,
    unsealedRecords,
    tornTail,
    prunedRecords,
  }
}

/**
 * The oldest segments that digests seal, that are no longer in `dir`, and whose newest record is
 * older than `since`, in order: only a run from the very first segment counts (pruning removes the
 * oldest first), so a segment missing after one that is present is still reported.
 */
function prunedPrefix(dir: string, digests: Array<{ name: string }>, segments: Array<{ name: string }>, since: number | undefined): DigestLogFile[] {
  if (since === undefined) return []
  const present = new Set(segments.map((s) => s.name))
  const out: DigestLogFile[] = []
  for (const d of digests) {
    for (const f of parseDigest(readFileSync(join(dir, d.name), 'utf8'))?.logFiles ?? []) {
      if (present.has(f.file) || !recordedBefore(f, since)) return out
      out.push(f)
    }
  }
  return out
}

function checkSignature(key: KeyObject, bytes: Uint8Array, hex: string): boolean {
  if (!/^[0-9a-f]+$/.test(hex)) return false
  try {
    return verify(null, bytes, key, Buffer.from(hex, 'hex'))
  } catch {
    return false
  }
}

function parseRecord(line: string): TrailRecord | undefined {
  try {
    const r = JSON.parse(line) as Partial<TrailRecord> | null
    if (r && Number.isSafeInteger(r.sequence) && typeof r.previousHash === 'string' && typeof r.event === 'object' && r.event !== null) return r as TrailRecord
  } catch {
    // not JSON: reported by the caller
  }
  return undefined
}

/** A digest file's content, or undefined when it is not one (unchecked: its signature is another matter). */
export function parseDigest(text: string): Digest | undefined {
  try {
    const d = JSON.parse(text) as Partial<Digest> | null
    if (d && typeof d.digestFile === 'string' && Array.isArray(d.logFiles) && Number.isSafeInteger(d.lastSequence)) return d as Digest
  } catch {
    // not JSON: reported by the caller
  }
  return undefined
}
