import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { listTrail, recordedBefore, type DigestLogFile } from './format.js'
import { parseDigest, verifyTrail } from './verify.js'

/** What {@link pruneTrail} removed (or would remove). */
export interface PruneResult {
  files: string[]
  records: number
}

/**
 * Removes the oldest sealed segments of a trail whose newest record is older than `before`
 * (milliseconds since the epoch), oldest first. Digests stay: they are small, and they let
 * `verifyTrail(dir, key, { since: before })` go on proving the rest, including that the chain
 * continues where the removed records ended. Refuses, removing nothing, when the trail does not
 * verify: pruning must not erase evidence of tampering. Safe while the server runs: it never
 * writes a sealed segment again.
 */
export function pruneTrail(dir: string, publicKey: string, before: number, options: { dryRun?: boolean } = {}): PruneResult {
  // Segments earlier prunes removed (whatever their cutoff) are no finding; everything kept is checked.
  const check = verifyTrail(dir, publicKey, { since: Number.POSITIVE_INFINITY })
  if (!check.ok) throw new Error(`the audit trail does not verify, so nothing was removed:\n  ${check.problems.join('\n  ')}`)
  const { segments, digests } = listTrail(dir)
  const present = new Set(segments.map((s) => s.name))
  const remove: DigestLogFile[] = []
  scan: for (const d of digests) {
    for (const f of parseDigest(readFileSync(join(dir, d.name), 'utf8'))?.logFiles ?? []) {
      if (!recordedBefore(f, before)) break scan
      if (present.has(f.file)) remove.push(f)
    }
  }
  if (!options.dryRun) for (const f of remove) rmSync(join(dir, f.file))
  return { files: remove.map((f) => f.file), records: remove.reduce((n, f) => n + f.lastSequence - f.firstSequence + 1, 0) }
}
