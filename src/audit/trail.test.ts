import assert from 'node:assert/strict'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import type { AuditEvent } from './event.js'
import { listTrail, PUBLIC_KEY_FILE, readSegment, signatureName } from './format.js'
import { readRecords } from './query.js'
import { sampleEvent, testSigner } from './test-fixtures/events.js'
import { FileTrail } from './trail.js'
import { verifyTrail } from './verify.js'

const dirs: string[] = []
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

/** A trail of three sealed segments (4 records each) and 2 unsealed records. */
async function sampleTrail(options: { unsealed?: number } = {}): Promise<{ dir: string; pem: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'trent-trail-'))
  dirs.push(dir)
  const s = testSigner()
  writeFileSync(join(dir, PUBLIC_KEY_FILE), s.pem)
  const trail = await FileTrail.open({ dir, signer: s, clock: { now: () => Date.now() } })
  let n = 0
  for (let seg = 0; seg < 3; seg++) {
    await Promise.all([1, 2, 3, 4].map(() => trail.append(sampleEvent(++n))))
    await trail.seal()
  }
  for (let i = 0; i < (options.unsealed ?? 0); i++) await trail.append(sampleEvent(++n))
  if (options.unsealed === undefined) await trail.close()
  return { dir, pem: s.pem }
}

const SPARE = 'spare-segment'
const MiB = 1024 * 1024

async function until(condition: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !condition(); await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
  }
}

function lines(dir: string, file: string): string[] {
  return readSegment(join(dir, file)).split('\n').slice(0, -1)
}

/** Writes `text` where a segment's records end (over its reserved zero bytes), as a torn append would. */
function writeAfterRecords(file: string, text: string): void {
  const fd = openSync(file, 'r+')
  try {
    writeSync(fd, text, Buffer.byteLength(readSegment(file)))
  } finally {
    closeSync(fd)
  }
}

function rewrite(dir: string, file: string, edit: (lines: string[]) => string[]): void {
  const out = edit(lines(dir, file))
  writeFileSync(join(dir, file), out.length ? `${out.join('\n')}\n` : '')
}

describe('audit trail', () => {
  it('writes every record once, in order, in group commits, and verifies', async () => {
    const { dir, pem } = await sampleTrail()
    const { segments, digests } = listTrail(dir)
    assert.deepEqual(segments.map((s) => s.name), ['trail-000001.jsonl', 'trail-000002.jsonl', 'trail-000003.jsonl'])
    // close() seals once more with nothing new: an empty digest keeps the chain going.
    assert.equal(digests.length, 4)
    const all = segments.flatMap((s) => lines(dir, s.name).map((l) => JSON.parse(l) as { sequence: number; event: AuditEvent }))
    assert.deepEqual(all.map((r) => r.sequence), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
    assert.deepEqual(new Set(all.map((r) => r.event.requestID)).size, 12)
    const result = verifyTrail(dir, pem)
    assert.deepEqual(result.problems, [])
    assert.equal(result.ok, true)
    assert.equal(result.records, 12)
    assert.equal(result.unsealedRecords, 0)
  })

  it('seals a segment that reaches its size limit at once, and the next records go to a new segment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trent-trail-'))
    dirs.push(dir)
    const signer = testSigner()
    const trail = await FileTrail.open({ dir, signer, clock: { now: () => Date.now() }, maxSegmentBytes: 2000 })
    for (let n = 1; n <= 12; n++) await trail.append(sampleEvent(n))
    const { segments, digests } = listTrail(dir)
    assert.ok(segments.length >= 3, `${segments.length} segments`)
    assert.ok(digests.length >= segments.length - 1, `${digests.length} digests for ${segments.length} segments`)
    for (const s of segments.slice(0, -1)) assert.ok(statSync(join(dir, s.name)).size < 2000 + 1100, `${s.name} grew past the limit`)
    await trail.close()
    const result = verifyTrail(dir, signer.pem)
    assert.deepEqual(result.problems, [])
    assert.equal(result.records, 12)
    assert.equal(result.unsealedRecords, 0)
  })

  it('reserves zero bytes after the records of the live segment, which readers stop at and sealing cuts off', async () => {
    const { dir, pem } = await sampleTrail({ unsealed: 3 })
    const file = join(dir, 'trail-000004.jsonl')
    const content = readSegment(file)
    assert.equal(content.split('\n').length, 4)
    const bytes = readFileSync(file)
    assert.ok(bytes.length > Buffer.byteLength(content), 'no space reserved')
    assert.ok(bytes.subarray(Buffer.byteLength(content)).every((b) => b === 0))
    assert.equal([...readRecords(dir)].length, 15)
    const live = verifyTrail(dir, pem)
    assert.deepEqual(live.problems, [])
    assert.equal(live.unsealedRecords, 3)
    assert.equal(live.tornTail, false)
    // Sealed segments hold exactly their records.
    for (const s of listTrail(dir).segments.slice(0, 3)) assert.equal(statSync(join(dir, s.name)).size, Buffer.byteLength(readSegment(join(dir, s.name))))
  })

  it('makes the next segment ahead in a spare file of zeros, which readers pass by and closing removes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trent-trail-'))
    dirs.push(dir)
    const signer = testSigner()
    // Whatever is left over from a crash, even something shaped like records, is not kept.
    writeFileSync(join(dir, SPARE), `${JSON.stringify({ sequence: 1, previousHash: '0'.repeat(64), event: sampleEvent(99) })}\n`)
    const trail = await FileTrail.open({ dir, signer, clock: { now: () => Date.now() } })
    await until(() => trail.spareBytes === 4 * MiB)
    const spare = statSync(join(dir, SPARE))
    assert.equal(spare.size, 4 * MiB)
    assert.equal(readSegment(join(dir, SPARE)), '')
    await Promise.all([1, 2, 3].map((n) => trail.append(sampleEvent(n))))
    // The segment is the spare renamed: its space was allocated before the records came.
    const segment = statSync(join(dir, 'trail-000001.jsonl'))
    assert.equal(segment.ino, spare.ino)
    assert.equal(segment.size, 4 * MiB)
    await until(() => trail.spareBytes !== undefined)
    assert.deepEqual([...readRecords(dir)].map((r) => r.sequence), [1, 2, 3])
    assert.deepEqual(verifyTrail(dir, signer.pem).problems, [])
    await trail.close()
    assert.equal(existsSync(join(dir, SPARE)), false)
    const result = verifyTrail(dir, signer.pem)
    assert.deepEqual(result.problems, [])
    assert.equal(result.records, 3)
  })

  it('goes on in a larger spare, under a new digest, once a segment outgrows the space it began with', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trent-trail-'))
    dirs.push(dir)
    const signer = testSigner()
    const trail = await FileTrail.open({ dir, signer, clock: { now: () => Date.now() }, maxSegmentBytes: 16 * MiB })
    await until(() => trail.spareBytes === 4 * MiB)
    let n = 0
    const group = (): Promise<unknown> => Promise.all(Array.from({ length: 1000 }, () => trail.append(sampleEvent(++n))))
    // Past half of its 4 MiB: the segment reserves more of its own and asks for a whole-segment spare.
    do await group()
    while (statSync(join(dir, 'trail-000001.jsonl')).size <= 4 * MiB)
    await until(() => trail.spareBytes === 20 * MiB)
    const spare = statSync(join(dir, SPARE))
    while (listTrail(dir).segments.length < 2) await group()
    assert.equal(statSync(join(dir, 'trail-000002.jsonl')).ino, spare.ino)
    assert.equal(listTrail(dir).digests.length, 1)
    // Sealed where its own reserved space ran short, long before its size limit.
    assert.ok(statSync(join(dir, 'trail-000001.jsonl')).size < 8 * MiB)
    await trail.close()
    const result = verifyTrail(dir, signer.pem)
    assert.deepEqual(result.problems, [])
    assert.equal(result.records, n)
  })

  it('a segment made but never written to (a crash before its first record) is removed at the next start, and is no finding', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trent-trail-'))
    dirs.push(dir)
    const signer = testSigner()
    const open = (): Promise<FileTrail> => FileTrail.open({ dir, signer, clock: { now: () => Date.now() } })
    let trail = await open()
    await trail.append(sampleEvent(1))
    await trail.close()
    // As a spare renamed into place leaves it when the crash comes before the first durable record.
    writeFileSync(join(dir, 'trail-000002.jsonl'), Buffer.alloc(4096))
    trail = await open()
    assert.equal(existsSync(join(dir, 'trail-000002.jsonl')), false)
    await trail.append(sampleEvent(2))
    await trail.close()
    assert.deepEqual(listTrail(dir).segments.map((s) => s.name), ['trail-000001.jsonl', 'trail-000003.jsonl'])
    const result = verifyTrail(dir, signer.pem)
    assert.deepEqual(result.problems, [])
    assert.equal(result.records, 2)
    // One an older server left between sealed segments seals nothing and hides nothing.
    writeFileSync(join(dir, 'trail-000002.jsonl'), '')
    assert.deepEqual(verifyTrail(dir, signer.pem).problems, [])
    writeFileSync(join(dir, 'trail-000002.jsonl'), `${JSON.stringify({ sequence: 2, previousHash: '0'.repeat(64), event: sampleEvent(2) })}\n`)
    assert.equal(verifyTrail(dir, signer.pem).ok, false)
  })

  it('reports records after the last digest as unsealed, and a torn last append as no tampering', async () => {
    const { dir, pem } = await sampleTrail({ unsealed: 2 })
    const before = verifyTrail(dir, pem)
    assert.equal(before.ok, true)
    assert.equal(before.unsealedRecords, 2)
    writeAfterRecords(join(dir, 'trail-000004.jsonl'), '{"sequence":15,"prev')
    const torn = verifyTrail(dir, pem)
    assert.equal(torn.ok, true)
    assert.equal(torn.tornTail, true)
    // In a sealed segment the same bytes are tampering.
    writeFileSync(join(dir, 'trail-000003.jsonl'), `${readFileSync(join(dir, 'trail-000003.jsonl'), 'utf8')}{"seq`)
    assert.equal(verifyTrail(dir, pem).ok, false)
  })

  const crashes = [
    { what: 'a torn append', garbage: '{"sequence":4,"previousHa' },
    // Writes run concurrently: after a power loss a later one may be on disk without an earlier one.
    { what: 'a hole left by concurrent writes', garbage: `${'\0'.repeat(40)}\n{"sequence":5,"previousHash":"00","event":{}}\n` },
  ]
  /** Three records, a crash (no close) with `garbage` written after them, and the trail opened again. */
  async function reopenAfterCrash(garbage: (dir: string) => string): Promise<{ dir: string; pem: string; second: FileTrail; logged: string[] }> {
    const dir = mkdtempSync(join(tmpdir(), 'trent-trail-'))
    dirs.push(dir)
    const s = testSigner()
    const first = await FileTrail.open({ dir, signer: s, clock: { now: () => Date.now() } })
    await Promise.all([1, 2, 3].map((n) => first.append(sampleEvent(n))))
    writeAfterRecords(join(dir, 'trail-000001.jsonl'), garbage(dir))
    const logged: string[] = []
    const second = await FileTrail.open({ dir, signer: s, clock: { now: () => Date.now() }, log: (m) => logged.push(m) })
    return { dir, pem: s.pem, second, logged }
  }

  for (const c of crashes) {
    it(`a reopened trail cuts ${c.what} off (never acknowledged), seals the rest, and continues the chain`, async () => {
      const { dir, pem, second, logged } = await reopenAfterCrash(() => c.garbage)
      await second.append(sampleEvent(4))
      await second.close()
      const result = verifyTrail(dir, pem)
      assert.deepEqual(result.problems, [])
      assert.equal(result.records, 4)
      assert.equal(result.unsealedRecords, 0)
      assert.deepEqual(listTrail(dir).segments.map((x) => x.name), ['trail-000001.jsonl', 'trail-000002.jsonl'])
      // What a crash leaves is cut without a word.
      assert.deepEqual(logged, [])
    })
  }

  it('says so at start when a whole line of an unsealed segment is not a record (no crash writes one) and cuts it off', async () => {
    const { dir, pem, second, logged } = await reopenAfterCrash((d) => `not a record\n${lines(d, 'trail-000001.jsonl').at(-1)}\n`)
    await second.close()
    assert.deepEqual(logged, ['trent: the audit trail\'s unsealed records did not read back whole at start: trail-000001.jsonl: line 4 is not a trail record; it and the 1 line(s) after it were cut off'])
    assert.equal(verifyTrail(dir, pem).records, 3)
  })

  const tampering: Array<{ what: string; tamper: (dir: string) => void; firstBad: { file: string; line: number; sequence: number }; problem: RegExp }> = [
    {
      what: 'one edited byte, naming the record',
      tamper: (dir) => rewrite(dir, 'trail-000002.jsonl', (l) => l.map((line, i) => (i === 1 ? line.replace('key-6', 'key-7') : line))),
      firstBad: { file: 'trail-000002.jsonl', line: 2, sequence: 6 },
      problem: /record 6 was altered/,
    },
    {
      what: 'an edited link field, naming that record, not its predecessor',
      tamper: (dir) => rewrite(dir, 'trail-000001.jsonl', (l) => l.map((line, i) => (i === 2 ? line.replace(/"previousHash":"./, '"previousHash":"f') : line))),
      firstBad: { file: 'trail-000001.jsonl', line: 3, sequence: 3 },
      problem: /record 3 was altered/,
    },
    {
      what: 'a deleted record',
      tamper: (dir) => rewrite(dir, 'trail-000002.jsonl', (l) => l.filter((_, i) => i !== 2)),
      firstBad: { file: 'trail-000002.jsonl', line: 3, sequence: 7 },
      problem: /record 7 is missing/,
    },
    {
      what: 'two swapped records',
      tamper: (dir) => rewrite(dir, 'trail-000001.jsonl', (l) => [l[0]!, l[2]!, l[1]!, l[3]!]),
      firstBad: { file: 'trail-000001.jsonl', line: 2, sequence: 2 },
      problem: /out of order|missing/,
    },
    {
      what: 'a truncated tail',
      tamper: (dir) => rewrite(dir, 'trail-000003.jsonl', (l) => l.slice(0, 2)),
      firstBad: { file: 'trail-000003.jsonl', line: 3, sequence: 11 },
      problem: /truncated/,
    },
  ]
  for (const t of tampering) {
    it(`catches ${t.what}`, async () => {
      const { dir, pem } = await sampleTrail()
      t.tamper(dir)
      const result = verifyTrail(dir, pem)
      assert.equal(result.ok, false)
      assert.deepEqual(result.firstBad, t.firstBad)
      assert.match(result.problems.join('\n'), t.problem)
    })
  }

  it('catches a deleted segment', async () => {
    const { dir, pem } = await sampleTrail()
    rmSync(join(dir, 'trail-000002.jsonl'))
    const result = verifyTrail(dir, pem)
    assert.equal(result.ok, false)
    assert.equal(result.firstBad?.sequence, 5)
  })

  it('catches a replaced digest and a forged digest signature', async () => {
    const { dir, pem } = await sampleTrail()
    // Replaced: a digest re-signed by another key.
    const other = testSigner()
    const digest = readFileSync(join(dir, 'digest-000002.json'))
    writeFileSync(join(dir, signatureName('digest-000002.json')), `${Buffer.from(await other.sign(digest)).toString('hex')}\n`)
    assert.match(verifyTrail(dir, pem).problems[0]!, /digest-000002.json: the signature does not verify/)

    const fresh = await sampleTrail()
    // Forged: an edited digest (claiming fewer records) with a made-up signature.
    const path = join(fresh.dir, 'digest-000003.json')
    writeFileSync(path, readFileSync(path, 'utf8').replace(/"lastSequence":12/, '"lastSequence":11'))
    writeFileSync(join(fresh.dir, signatureName('digest-000003.json')), `${'ab'.repeat(64)}\n`)
    assert.match(verifyTrail(fresh.dir, fresh.pem).problems[0]!, /digest-000003.json: the signature does not verify/)
  })

  it('catches a deleted digest in the middle of the chain', async () => {
    const { dir, pem } = await sampleTrail()
    rmSync(join(dir, 'digest-000002.json'))
    assert.match(verifyTrail(dir, pem).problems.join('\n'), /digest 2 is missing/)
  })

  it('under concurrent appends and a failing disk: refuses, holds the records, and writes them all in order once it works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trent-trail-'))
    dirs.push(dir)
    const s = testSigner()
    let failing = false
    const trail = await FileTrail.open({ dir, signer: s, clock: { now: () => Date.now() }, retryMs: 20, log: () => {}, beforeWrite: () => {
      if (failing) throw new Error('ENOSPC: no space left on device')
    } })
    await Promise.all(Array.from({ length: 200 }, (_, i) => trail.append(sampleEvent(i + 1))))
    failing = true
    const refused = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => trail.append(sampleEvent(201 + i))))
    assert.ok(refused.every((r) => r.status === 'rejected'))
    assert.equal(trail.health().ok, false)
    await assert.rejects(trail.append(sampleEvent(221)))
    failing = false
    for (let i = 0; i < 100 && !trail.health().ok; i++) await new Promise((r) => setTimeout(r, 10))
    assert.equal(trail.health().ok, true)
    await trail.append(sampleEvent(222))
    await trail.close()
    const result = verifyTrail(dir, s.pem)
    assert.deepEqual(result.problems, [])
    assert.equal(result.records, 222)
    const stored = listTrail(dir).segments.flatMap((x) => lines(dir, x.name).map((l) => JSON.parse(l) as { event: AuditEvent }))
    assert.equal(stored.filter((r) => r.event.additionalEventData?.['responseReplacedBy'] === 'KMSInternalException').length, 20)
    assert.equal(new Set(stored.map((r) => r.event.requestID)).size, 222)
  })

})
