import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import {
  CancelKeyDeletionCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  ListKeysCommand,
  ScheduleKeyDeletionCommand,
  type KMSClient,
} from '@aws-sdk/client-kms'
import Database from 'better-sqlite3'
import { startServer, type RunningTrent } from '../../src/main.js'
import { ACCOUNT, CREDENTIALS, REGION, tempDataDir, rejectsWithKmsError } from './harness.js'
import { ShiftedClock, clockedClient } from './shifted-clock.js'

const DAY = 24 * 60 * 60 * 1000

const client = clockedClient

const rejects = rejectsWithKmsError

/** The stored EKTs of a key, read straight from the data dir's database (a second, read-only connection). */
function storedEkts(dataDir: string, keyId: string): Buffer[] {
  const db = new Database(join(dataDir, 'trent.db'), { readonly: true, fileMustExist: true })
  try {
    return (db.prepare('SELECT ekt FROM key_materials WHERE key_id = ?').all(keyId) as Array<{ ekt: Buffer }>).map((r) => r.ekt)
  } finally {
    db.close()
  }
}

/** The files of the data dir (recursively) whose bytes contain `needle`. */
function filesContaining(dir: string, needle: Buffer): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) return filesContaining(p, needle)
    return readFileSync(p).includes(needle) ? [name] : []
  })
}

function near(actual: Date | undefined, expectedMs: number): void {
  assert.ok(actual instanceof Date, `expected a date, got ${String(actual)}`)
  assert.ok(Math.abs(actual.getTime() - expectedMs) < 60_000, `${actual.toISOString()} is not near ${new Date(expectedMs).toISOString()}`)
}

describe('key deletion: ScheduleKeyDeletion, CancelKeyDeletion and the deletion job', () => {
  const data = tempDataDir()
  const clock = new ShiftedClock()
  let trent: RunningTrent | undefined
  let kms: KMSClient

  async function start(): Promise<void> {
    trent = await startServer({ host: '127.0.0.1', port: 0, dataDir: data.dir, region: REGION, accountId: ACCOUNT, admin: CREDENTIALS, clock })
    kms = client(trent.url, clock)
  }

  async function stop(): Promise<void> {
    kms?.destroy()
    await trent?.close()
    trent = undefined
  }

  after(async () => {
    await stop()
    data.cleanup()
  })

  async function newKey(): Promise<{ id: string; arn: string }> {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}))
    return { id: KeyMetadata!.KeyId!, arn: KeyMetadata!.Arn! }
  }

  async function encrypt(keyId: string, text: string): Promise<Uint8Array> {
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(text), EncryptionContext: { case: 'deletion' } }))
    return CiphertextBlob!
  }

  const decrypt = (blob: Uint8Array, keyId?: string) =>
    kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { case: 'deletion' }, ...(keyId ? { KeyId: keyId } : {}) }))

  async function listedKeyIds(): Promise<string[]> {
    const ids: string[] = []
    let Marker: string | undefined
    do {
      const page = await kms.send(new ListKeysCommand({ Limit: 100, ...(Marker ? { Marker } : {}) }))
      ids.push(...page.Keys!.map((k) => k.KeyId!))
      Marker = page.Truncated ? page.NextMarker : undefined
    } while (Marker)
    return ids
  }

  // State shared by the steps below, which run in order.
  let scheduled: { id: string; arn: string }
  let oldBlob: Uint8Array
  let thirtyDays: { id: string; arn: string }
  let thirtyDaysBlob: Uint8Array
  let live: { id: string; arn: string }
  let scheduledEkt: Buffer
  let thirtyDaysEkt: Buffer

  it('starts in process with a movable clock', async () => {
    await start()
    assert.ok(trent)
  })

  it('ScheduleKeyDeletion validates its input', async () => {
    const key = await newKey()
    await rejects(
      kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.id, PendingWindowInDays: 6 })),
      'ValidationException',
      "1 validation error detected: Value '6' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 7",
    )
    await rejects(
      kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.id, PendingWindowInDays: 31 })),
      'ValidationException',
      "1 validation error detected: Value '31' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value less than or equal to 30",
    )
    const unknown = '0b7fd7bd-1b9c-4e1a-9e1f-6c1b7b9d0a11'
    await rejects(
      kms.send(new ScheduleKeyDeletionCommand({ KeyId: unknown })),
      'NotFoundException',
      `Key 'arn:aws:kms:${REGION}:${ACCOUNT}:key/${unknown}' does not exist`,
    )
    await rejects(kms.send(new ScheduleKeyDeletionCommand({ KeyId: 'alias/some-alias' })), 'NotFoundException')
    await rejects(kms.send(new CancelKeyDeletionCommand({ KeyId: 'alias/some-alias' })), 'NotFoundException')
    await rejects(kms.send(new CancelKeyDeletionCommand({ KeyId: key.arn })), 'KMSInvalidStateException', `${key.arn} is not pending deletion.`)
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: key.id }))).KeyMetadata!.KeyState, 'Enabled', 'unchanged')
  })

  it('the window defaults to 30 days', async () => {
    thirtyDays = await newKey()
    thirtyDaysBlob = await encrypt(thirtyDays.id, 'thirty')
    const res = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: thirtyDays.arn }))
    assert.equal(res.KeyId, thirtyDays.arn)
    assert.equal(res.KeyState, 'PendingDeletion')
    assert.equal(res.PendingWindowInDays, 30)
    near(res.DeletionDate, clock.now() + 30 * DAY)
  })

  it('schedules a deletion in 7 days: PendingDeletion, not enabled, with its deletion date', async () => {
    scheduled = await newKey()
    oldBlob = await encrypt(scheduled.id, 'old secret')
    const res = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: scheduled.id, PendingWindowInDays: 7 }))
    assert.deepEqual(
      { KeyId: res.KeyId, KeyState: res.KeyState, PendingWindowInDays: res.PendingWindowInDays },
      { KeyId: scheduled.arn, KeyState: 'PendingDeletion', PendingWindowInDays: 7 },
    )
    near(res.DeletionDate, clock.now() + 7 * DAY)
    const m = (await kms.send(new DescribeKeyCommand({ KeyId: scheduled.arn }))).KeyMetadata!
    assert.equal(m.KeyState, 'PendingDeletion')
    assert.equal(m.Enabled, false)
    assert.equal(m.DeletionDate?.getTime(), res.DeletionDate?.getTime())
    assert.equal(m.PendingDeletionWindowInDays, 7)
  })

  it('a key pending deletion cannot be used, scheduled again, enabled or disabled', async () => {
    const pending = `${scheduled.arn} is pending deletion.`
    await rejects(encrypt(scheduled.id, 'new'), 'KMSInvalidStateException', pending)
    await rejects(decrypt(oldBlob), 'KMSInvalidStateException', pending)
    await rejects(kms.send(new GenerateDataKeyCommand({ KeyId: scheduled.arn, KeySpec: 'AES_256' })), 'KMSInvalidStateException', pending)
    await rejects(kms.send(new ScheduleKeyDeletionCommand({ KeyId: scheduled.arn, PendingWindowInDays: 30 })), 'KMSInvalidStateException', pending)
    await rejects(kms.send(new EnableKeyCommand({ KeyId: scheduled.arn })), 'KMSInvalidStateException', pending)
    await rejects(kms.send(new DisableKeyCommand({ KeyId: scheduled.arn })), 'KMSInvalidStateException', pending)
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: scheduled.arn }))).KeyMetadata!.PendingDeletionWindowInDays, 7, 'unchanged')
  })

  it('CancelKeyDeletion leaves the key Disabled, without a deletion date', async () => {
    const res = await kms.send(new CancelKeyDeletionCommand({ KeyId: scheduled.id }))
    assert.equal(res.KeyId, scheduled.arn)
    const m = (await kms.send(new DescribeKeyCommand({ KeyId: scheduled.id }))).KeyMetadata!
    assert.equal(m.KeyState, 'Disabled')
    assert.equal(m.Enabled, false)
    assert.equal(m.DeletionDate, undefined)
    assert.equal(m.PendingDeletionWindowInDays, undefined)
    await rejects(encrypt(scheduled.id, 'new'), 'DisabledException', `${scheduled.arn} is disabled.`)
    await rejects(kms.send(new CancelKeyDeletionCommand({ KeyId: scheduled.id })), 'KMSInvalidStateException', `${scheduled.arn} is not pending deletion.`)
    // Enabled again it works, old ciphertexts included.
    await kms.send(new EnableKeyCommand({ KeyId: scheduled.id }))
    assert.equal(Buffer.from((await decrypt(oldBlob)).Plaintext!).toString(), 'old secret')
  })

  it('schedules it again, then the server stops', async () => {
    live = await newKey()
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: scheduled.arn, PendingWindowInDays: 7 }))
    // Read the EKTs now, while they exist, to look for them in the files afterwards.
    ;[scheduledEkt] = storedEkts(data.dir, scheduled.id) as [Buffer]
    ;[thirtyDaysEkt] = storedEkts(data.dir, thirtyDays.id) as [Buffer]
    assert.ok(scheduledEkt.length >= 32 && thirtyDaysEkt.length >= 32)
    // Nothing is due yet.
    assert.equal(await trent!.runDueDeletions(), 0)
    await stop()
  })

  it('restarted 8 days later, the key is gone at start (catch-up of deletions due while down)', async () => {
    clock.offsetMs += 8 * DAY
    await start()
    // startServer resolves after the first run of the deletion job, before serving.
    assert.deepEqual(storedEkts(data.dir, scheduled.id), [])
    await rejects(kms.send(new DescribeKeyCommand({ KeyId: scheduled.arn })), 'NotFoundException', `Key '${scheduled.arn}' does not exist`)
    await rejects(kms.send(new DescribeKeyCommand({ KeyId: scheduled.id })), 'NotFoundException', `Key '${scheduled.arn}' does not exist`)
    const ids = await listedKeyIds()
    assert.ok(!ids.includes(scheduled.id), 'absent from ListKeys')
    assert.ok(ids.includes(live.id) && ids.includes(thirtyDays.id))
    // Its ciphertexts are undecryptable: the blob names a key that no longer exists.
    await rejects(decrypt(oldBlob), 'InvalidCiphertextException')
    await rejects(decrypt(oldBlob, scheduled.arn), 'NotFoundException', `Key '${scheduled.arn}' does not exist`)
    await rejects(kms.send(new CancelKeyDeletionCommand({ KeyId: scheduled.arn })), 'NotFoundException', `Key '${scheduled.arn}' does not exist`)
  })

  it('a key scheduled for 30 days is still pending after 8; other keys are untouched', async () => {
    const m = (await kms.send(new DescribeKeyCommand({ KeyId: thirtyDays.arn }))).KeyMetadata!
    assert.equal(m.KeyState, 'PendingDeletion')
    assert.equal(m.PendingDeletionWindowInDays, 30)
    assert.equal(storedEkts(data.dir, thirtyDays.id).length, 1)
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: live.id }))).KeyMetadata!.KeyState, 'Enabled')
    assert.equal(Buffer.from((await decrypt(await encrypt(live.id, 'still here'))).Plaintext!).toString(), 'still here')
  })

  it("the deleted key's EKT bytes are nowhere in the data dir once the server has stopped", async () => {
    await stop()
    // The scan finds an EKT that is still stored, so not finding the deleted one means something.
    assert.notDeepEqual(filesContaining(data.dir, thirtyDaysEkt), [], 'the scan sees live EKTs')
    assert.deepEqual(filesContaining(data.dir, scheduledEkt), [])
    await start()
  })

  it('a key falling due while the server runs is deleted by the next run of the job', async () => {
    const key = await newKey()
    const blob = await encrypt(key.id, 'short-lived')
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.id, PendingWindowInDays: 7 }))
    const [ekt] = storedEkts(data.dir, key.id) as [Buffer]
    clock.offsetMs += 6 * DAY
    assert.equal(await trent!.runDueDeletions(), 0, 'not due after 6 days')
    clock.offsetMs += DAY + 60_000
    assert.equal(await trent!.runDueDeletions(), 1)
    await rejects(kms.send(new DescribeKeyCommand({ KeyId: key.arn })), 'NotFoundException', `Key '${key.arn}' does not exist`)
    assert.ok(!(await listedKeyIds()).includes(key.id))
    await rejects(decrypt(blob), 'InvalidCiphertextException')
    assert.deepEqual(storedEkts(data.dir, key.id), [])
    // Shredded while running too: the store checkpoints the WAL after a deletion.
    assert.deepEqual(filesContaining(data.dir, ekt), [])
  })

  it('the 30-day key goes once its 30 days have passed', async () => {
    // 8 + 7 days have passed since it was scheduled; 15 more make 30.
    assert.equal(await trent!.runDueDeletions(), 0)
    clock.offsetMs += 15 * DAY
    assert.equal(await trent!.runDueDeletions(), 1)
    await rejects(kms.send(new DescribeKeyCommand({ KeyId: thirtyDays.arn })), 'NotFoundException', `Key '${thirtyDays.arn}' does not exist`)
    await rejects(decrypt(thirtyDaysBlob), 'InvalidCiphertextException')
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: live.id }))).KeyMetadata!.KeyState, 'Enabled')
    await stop()
    assert.deepEqual(filesContaining(data.dir, thirtyDaysEkt), [])
  })
})
