import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { listTrail, readSegment } from './format.js'
import { pruneTrail } from './prune.js'
import { readRecords } from './query.js'
import { sampleEvent, testSigner } from './test-fixtures/events.js'
import { FileTrail } from './trail.js'
import { verifyTrail } from './verify.js'

const dirs: string[] = []
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

const signer = testSigner()
const { pem } = signer
const clock = { now: () => Date.now() }

const day = (d: number): string => `2026-01-0${d}T12:00:00Z`

/** Segments 1-3 sealed with 3 records each, recorded on days 1, 2 and 3; 2 unsealed records of day 4 unless closed. */
async function trail(options: { close?: boolean } = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'trent-prune-'))
  dirs.push(dir)
  const t = await FileTrail.open({ dir, signer, clock })
  let n = 0
  for (let d = 1; d <= 3; d++) {
    for (let i = 0; i < 3; i++) await t.append(sampleEvent(++n, day(d)))
    await t.seal()
  }
  for (let i = 0; i < 2; i++) await t.append(sampleEvent(++n, day(4)))
  if (options.close) await t.close()
  return dir
}

const segmentNames = (dir: string): string[] => listTrail(dir).segments.map((s) => s.name)

describe('pruning the audit trail', () => {
  it('removes the oldest sealed segments recorded before the cutoff; verify --since proves the rest', async () => {
    const dir = await trail()
    const cutoff = Date.parse('2026-01-03T00:00:00Z')
    assert.deepEqual(pruneTrail(dir, pem, cutoff, { dryRun: true }), { files: ['trail-000001.jsonl', 'trail-000002.jsonl'], records: 6 })
    assert.equal(segmentNames(dir).length, 4, 'a dry run removed something')

    assert.deepEqual(pruneTrail(dir, pem, cutoff), { files: ['trail-000001.jsonl', 'trail-000002.jsonl'], records: 6 })
    assert.deepEqual(segmentNames(dir), ['trail-000003.jsonl', 'trail-000004.jsonl'])
    // Without --since, the missing segments are findings.
    const strict = verifyTrail(dir, pem)
    assert.equal(strict.ok, false)
    assert.match(strict.problems[0]!, /record 1 is missing/)
    const since = verifyTrail(dir, pem, { since: cutoff })
    assert.deepEqual(since.problems, [])
    assert.equal(since.prunedRecords, 6)
    assert.equal(since.records, 5)
    assert.equal(since.unsealedRecords, 2)
    assert.deepEqual([...readRecords(dir)].map((r) => r.sequence), [7, 8, 9, 10, 11])
    // Pruning again removes nothing more; a cutoff before the first record removes nothing.
    assert.equal(pruneTrail(dir, pem, cutoff).files.length, 0)
    assert.equal(pruneTrail(dir, pem, Date.parse('2025-01-01T00:00:00Z')).files.length, 0)
  })

  it('after pruning, tampering with what is left is still caught, the first kept record included', async () => {
    const cutoff = Date.parse('2026-01-03T00:00:00Z')
    const cases: Array<{ what: string; tamper: (dir: string) => void; problem: RegExp }> = [
      {
        what: 'the first kept record re-chained to something else',
        tamper: (dir) => {
          const file = join(dir, 'trail-000003.jsonl')
          writeFileSync(file, readFileSync(file, 'utf8').replace(/"previousHash":"[0-9a-f]{64}"/, `"previousHash":"${'0'.repeat(64)}"`))
        },
        problem: /record 7 was altered/,
      },
      { what: 'a kept sealed segment deleted', tamper: (dir) => rmSync(join(dir, 'trail-000003.jsonl')), problem: /trail-000003\.jsonl/ },
      {
        what: 'a kept record edited',
        tamper: (dir) => {
          const file = join(dir, 'trail-000003.jsonl')
          writeFileSync(file, readFileSync(file, 'utf8').replace('key-8', 'key-X'))
        },
        problem: /record 8 was altered/,
      },
    ]
    for (const c of cases) {
      const dir = await trail({ close: true })
      pruneTrail(dir, pem, cutoff)
      c.tamper(dir)
      const result = verifyTrail(dir, pem, { since: cutoff })
      assert.equal(result.ok, false, c.what)
      assert.match(result.problems.join('\n'), c.problem, c.what)
    }
  })

  it('a segment missing after one that is kept is not taken for pruned', async () => {
    const dir = await trail({ close: true })
    rmSync(join(dir, 'trail-000002.jsonl'))
    const result = verifyTrail(dir, pem, { since: Date.parse('2026-01-03T00:00:00Z') })
    assert.equal(result.ok, false)
    assert.equal(result.prunedRecords, 0)
  })

  it('refuses to prune a trail that does not verify, removing nothing', async () => {
    const dir = await trail({ close: true })
    const file = join(dir, 'trail-000001.jsonl')
    writeFileSync(file, readFileSync(file, 'utf8').replace('key-2', 'key-Y'))
    assert.throws(() => pruneTrail(dir, pem, Date.parse('2026-01-03T00:00:00Z')), /does not verify, so nothing was removed/)
    assert.ok(existsSync(file))
  })

  it('a trail reopened after every segment was pruned goes on with new segment names and verifies', async () => {
    const dir = await trail({ close: true })
    const cutoff = Date.parse('2026-02-01T00:00:00Z')
    const pruned = pruneTrail(dir, pem, cutoff)
    assert.equal(pruned.records, 11)
    assert.deepEqual(segmentNames(dir), [])
    const reopened = await FileTrail.open({ dir, signer, clock })
    await reopened.append(sampleEvent(12, '2026-02-02T00:00:00Z'))
    await reopened.close()
    assert.deepEqual(segmentNames(dir), ['trail-000005.jsonl'])
    assert.equal(JSON.parse(readSegment(join(dir, 'trail-000005.jsonl'))).sequence, 12)
    const result = verifyTrail(dir, pem, { since: cutoff })
    assert.deepEqual(result.problems, [])
    assert.equal(result.prunedRecords, 11)
    assert.equal(result.records, 1)
  })
})
