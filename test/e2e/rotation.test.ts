import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import {
  CancelKeyDeletionCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyRotationStatusCommand,
  ListKeyRotationsCommand,
  ReEncryptCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  type KMSClient,
  type RotationsListEntry,
} from '@aws-sdk/client-kms'
import Database from 'better-sqlite3'
import { queryAudit, startServer, type RunningTrent } from '../../src/main.js'
import type { SystemEvent } from '../../src/service/key-material.js'
import { ACCOUNT, CREDENTIALS, REGION, rejectsWithKmsError as rejects, tempDataDir } from './harness.js'
import { ShiftedClock, clockedClient } from './shifted-clock.js'

const DAY = 24 * 60 * 60 * 1000

function near(actual: Date | undefined, expectedMs: number, what = 'date'): void {
  assert.ok(actual instanceof Date, `expected a ${what}, got ${String(actual)}`)
  assert.ok(Math.abs(actual.getTime() - expectedMs) < 60_000, `${what} ${actual.toISOString()} is not near ${new Date(expectedMs).toISOString()}`)
}

describe('key rotation: EnableKeyRotation, RotateKeyOnDemand, ListKeyRotations and the rotation job', () => {
  const data = tempDataDir()
  const clock = new ShiftedClock()
  const events: SystemEvent[] = []
  let trent: RunningTrent | undefined
  let kms: KMSClient

  const start = (): Promise<RunningTrent> =>
    startServer({ host: '127.0.0.1', port: 0, dataDir: data.dir, region: REGION, accountId: ACCOUNT, admin: CREDENTIALS, clock, onSystemEvent: (e) => void events.push(e) })

  async function stop(): Promise<void> {
    kms?.destroy()
    await trent?.close()
    trent = undefined
  }

  after(async () => {
    await stop()
    data.cleanup()
  })

  const context = { purpose: 'rotation' }
  async function newKey(): Promise<{ id: string; arn: string }> {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}))
    return { id: KeyMetadata!.KeyId!, arn: KeyMetadata!.Arn! }
  }
  async function encrypt(keyId: string, text: string): Promise<Uint8Array> {
    return (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(text), EncryptionContext: context }))).CiphertextBlob!
  }
  async function decrypt(blob: Uint8Array): Promise<{ text: string; keyMaterialId: string }> {
    const res = await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context }))
    return { text: Buffer.from(res.Plaintext!).toString(), keyMaterialId: res.KeyMaterialId! }
  }
  async function currentMaterial(keyId: string): Promise<string> {
    return (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.CurrentKeyMaterialId!
  }
  async function rotations(keyId: string, all = false): Promise<RotationsListEntry[]> {
    const out: RotationsListEntry[] = []
    let Marker: string | undefined
    do {
      const page = await kms.send(new ListKeyRotationsCommand({ KeyId: keyId, Limit: 7, ...(all ? { IncludeKeyMaterial: 'ALL_KEY_MATERIAL' } : {}), ...(Marker ? { Marker } : {}) }))
      out.push(...page.Rotations!)
      Marker = page.Truncated ? page.NextMarker : undefined
    } while (Marker)
    return out
  }

  let key: { id: string; arn: string }
  let firstBlob: Uint8Array
  let firstMaterial: string
  let scheduled: { id: string; arn: string }
  let enabledAt: number

  it('starts in process with a movable clock', async () => {
    trent = await start()
    kms = clockedClient(trent.url, clock)
  })

  it('EnableKeyRotation validates the period; GetKeyRotationStatus of a new key says disabled, with nothing else', async () => {
    key = await newKey()
    firstBlob = await encrypt(key.id, 'before any rotation')
    firstMaterial = await currentMaterial(key.id)
    assert.match(firstMaterial, /^[0-9a-f]{64}$/)
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.id }))
    assert.deepEqual({ ...status, $metadata: undefined }, { $metadata: undefined, KeyId: key.arn, KeyRotationEnabled: false })
    await rejects(
      kms.send(new EnableKeyRotationCommand({ KeyId: key.id, RotationPeriodInDays: 89 })),
      'ValidationException',
      "1 validation error detected: Value '89' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value greater than or equal to 90",
    )
    await rejects(
      kms.send(new EnableKeyRotationCommand({ KeyId: key.id, RotationPeriodInDays: 2561 })),
      'ValidationException',
      "1 validation error detected: Value '2561' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value less than or equal to 2560",
    )
    await rejects(kms.send(new EnableKeyRotationCommand({ KeyId: 'alias/nope' })), 'NotFoundException')
    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.arn }))).KeyRotationEnabled, false, 'unchanged')
  })

  it('enables rotation with the default period of 365 days, then 90', async () => {
    enabledAt = clock.now()
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.id }))
    let status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.id }))
    assert.equal(status.KeyRotationEnabled, true)
    assert.equal(status.RotationPeriodInDays, 365)
    near(status.NextRotationDate, enabledAt + 365 * DAY)
    assert.equal(status.OnDemandRotationStartDate, undefined)
    await kms.send(new EnableKeyRotationCommand({ KeyId: key.arn, RotationPeriodInDays: 90 }))
    status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.id }))
    assert.equal(status.RotationPeriodInDays, 90)
    near(status.NextRotationDate, enabledAt + 90 * DAY)
    assert.deepEqual(await rotations(key.id), [], 'no rotation yet')
  })

  it('RotateKeyOnDemand: a new HBK encrypts, the old one still decrypts, the schedule is unchanged', async () => {
    const res = await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.id }))
    assert.equal(res.KeyId, key.arn)
    const second = await currentMaterial(key.id)
    assert.match(second, /^[0-9a-f]{64}$/)
    assert.notEqual(second, firstMaterial)
    const dataKey = await kms.send(new GenerateDataKeyCommand({ KeyId: key.id, KeySpec: 'AES_256', EncryptionContext: context }))
    assert.equal(dataKey.KeyMaterialId, second)
    assert.deepEqual(await decrypt(firstBlob), { text: 'before any rotation', keyMaterialId: firstMaterial })
    assert.deepEqual(await decrypt(await encrypt(key.id, 'after')), { text: 'after', keyMaterialId: second })
    const re = await kms.send(new ReEncryptCommand({ CiphertextBlob: firstBlob, SourceEncryptionContext: context, DestinationKeyId: key.id, DestinationEncryptionContext: context }))
    assert.equal(re.SourceKeyMaterialId, firstMaterial)
    assert.equal(re.DestinationKeyMaterialId, second)
    assert.deepEqual(await decrypt(re.CiphertextBlob!), { text: 'before any rotation', keyMaterialId: second })

    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.id }))
    near(status.NextRotationDate, enabledAt + 90 * DAY, 'unchanged NextRotationDate')
    assert.equal(status.OnDemandRotationStartDate, undefined, 'finished')

    const listed = await rotations(key.id)
    assert.equal(listed.length, 1)
    assert.deepEqual({ ...listed[0], RotationDate: undefined }, { KeyId: key.arn, KeyMaterialId: second, KeyMaterialState: 'CURRENT', RotationType: 'ON_DEMAND', RotationDate: undefined })
    near(listed[0]!.RotationDate, clock.now(), 'RotationDate')
    const all = await rotations(key.id, true)
    assert.deepEqual(all.map((r) => [r.KeyMaterialId, r.KeyMaterialState, r.RotationType]), [
      [firstMaterial, 'NON_CURRENT', undefined],
      [second, 'CURRENT', 'ON_DEMAND'],
    ])
    assert.equal(events.length, 0, 'requests are not system events')
  })

  it('RotateKeyOnDemand while another one runs is a ConflictException; a mark left by a dead node lapses after a minute', async () => {
    // What a node that is mid-rotation (or died there) leaves in the shared store.
    const startedAt = clock.now()
    const db = new Database(join(data.dir, 'trent.db'), { fileMustExist: true })
    try {
      db.prepare('UPDATE keys SET on_demand_rotation_start_date = ?, version = version + 1 WHERE key_id = ?').run(startedAt, key.id)
    } finally {
      db.close()
    }
    const before = (await rotations(key.id)).length
    await rejects(kms.send(new RotateKeyOnDemandCommand({ KeyId: key.id })), 'ConflictException')
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.id }))
    assert.equal(status.OnDemandRotationStartDate?.getTime(), startedAt)
    clock.offsetMs += 61_000
    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.id }))).OnDemandRotationStartDate, undefined)
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.id }))
    assert.equal((await rotations(key.id)).length, before + 1)
  })

  it('concurrent RotateKeyOnDemand calls: each succeeds with one rotation or answers ConflictException', async () => {
    const before = (await rotations(key.id)).length
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => kms.send(new RotateKeyOnDemandCommand({ KeyId: key.id }))))
    const succeeded = results.filter((r) => r.status === 'fulfilled').length
    const conflicts = results.filter((r) => r.status === 'rejected' && (r.reason as Error).name === 'ConflictException').length
    assert.ok(succeeded >= 1, 'at least one rotates')
    assert.equal(succeeded + conflicts, results.length, JSON.stringify(results.filter((r) => r.status === 'rejected').map((r) => String(r.reason))))
    assert.equal((await rotations(key.id)).length, before + succeeded)
  })

  it('RotateKeyOnDemand is limited to 25 rotations per key; the first ciphertext still decrypts after all of them', async () => {
    let done = (await rotations(key.id)).length
    while (done < 25) {
      await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.arn }))
      done++
    }
    await rejects(
      kms.send(new RotateKeyOnDemandCommand({ KeyId: key.id })),
      'LimitExceededException',
      `The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: ${key.arn}`,
    )
    const listed = await rotations(key.id)
    assert.equal(listed.length, 25)
    assert.equal(new Set(listed.map((r) => r.KeyMaterialId)).size, 25, 'every rotation made a new HBK')
    assert.deepEqual(listed.map((r) => r.KeyMaterialState), [...Array<string>(24).fill('NON_CURRENT'), 'CURRENT'])
    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.id }))).OnDemandRotationStartDate, undefined, 'the refused one left no mark')
    assert.deepEqual(await decrypt(firstBlob), { text: 'before any rotation', keyMaterialId: firstMaterial })
  })

  it('rotation refuses disabled keys and aliases; GetKeyRotationStatus reports false while a key is pending deletion', async () => {
    scheduled = await newKey()
    await kms.send(new EnableKeyRotationCommand({ KeyId: scheduled.id, RotationPeriodInDays: 180 }))
    await kms.send(new DisableKeyCommand({ KeyId: scheduled.id }))
    const disabled = `${scheduled.arn} is disabled.`
    await rejects(kms.send(new EnableKeyRotationCommand({ KeyId: scheduled.id })), 'DisabledException', disabled)
    await rejects(kms.send(new DisableKeyRotationCommand({ KeyId: scheduled.id })), 'DisabledException', disabled)
    await rejects(kms.send(new RotateKeyOnDemandCommand({ KeyId: scheduled.id })), 'DisabledException', disabled)
    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: scheduled.id }))).KeyRotationEnabled, true, 'the setting survives disabling')
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: scheduled.id, PendingWindowInDays: 30 }))
    assert.deepEqual((await kms.send(new GetKeyRotationStatusCommand({ KeyId: scheduled.id }))).KeyRotationEnabled, false)
    await rejects(kms.send(new RotateKeyOnDemandCommand({ KeyId: scheduled.id })), 'KMSInvalidStateException', `${scheduled.arn} is pending deletion.`)
    await kms.send(new CancelKeyDeletionCommand({ KeyId: scheduled.id }))
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: scheduled.id }))
    assert.equal(status.KeyRotationEnabled, true, 'restored after cancelling')
    assert.equal(status.RotationPeriodInDays, 180)
  })

  it('the job rotates a key when its date comes, once, and sets the next date one period on', async () => {
    assert.deepEqual(await trent!.runKeyMaterialJobs(), { rotated: 0, expired: 0 }, 'nothing due yet')
    clock.offsetMs += 91 * DAY
    const run = await trent!.runKeyMaterialJobs()
    assert.deepEqual(run, { rotated: 1, expired: 0 }, 'only the enabled key; the disabled one waits')
    assert.deepEqual(await trent!.runKeyMaterialJobs(), { rotated: 0, expired: 0 }, 'not twice')
    const listed = await rotations(key.id)
    assert.equal(listed.length, 26)
    const last = listed.at(-1)!
    assert.equal(last.RotationType, 'AUTOMATIC')
    assert.equal(last.KeyMaterialState, 'CURRENT')
    assert.equal(last.KeyMaterialId, await currentMaterial(key.id))
    near((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.id }))).NextRotationDate, clock.now() + 90 * DAY)
    assert.deepEqual(events.map((e) => [e.eventName, e.keyArn, e.keyMaterialId]), [['RotateKey', key.arn, last.KeyMaterialId]])
    // The audit trail holds it as an AWS service event, durable before the job reported it.
    const audited = [...queryAudit({ dataDir: data.dir }, { eventName: 'RotateKey' })]
    assert.equal(audited.length, 1)
    assert.equal(audited[0]!.eventType, 'AwsServiceEvent')
    assert.deepEqual(audited[0]!.resources, [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: key.arn }])
    assert.deepEqual(audited[0]!.serviceEventDetails, { keyId: key.id, keyMaterialId: last.KeyMaterialId })
    assert.deepEqual(await decrypt(firstBlob), { text: 'before any rotation', keyMaterialId: firstMaterial })
  })

  it('a disabled key whose date has passed rotates once it is enabled again', async () => {
    clock.offsetMs += 100 * DAY
    const before = await currentMaterial(scheduled.id)
    await kms.send(new EnableKeyCommand({ KeyId: scheduled.id }))
    const run = await trent!.runKeyMaterialJobs()
    assert.equal(run.rotated, 2, 'the re-enabled key and the 90-day key')
    assert.notEqual(await currentMaterial(scheduled.id), before)
    near((await kms.send(new GetKeyRotationStatusCommand({ KeyId: scheduled.id }))).NextRotationDate, clock.now() + 180 * DAY)
  })

  it('after downtime spanning several periods, the key rotates once at start and counts the next date from then', async () => {
    const before = (await rotations(key.id)).length
    await stop()
    clock.offsetMs += 400 * DAY
    trent = await start()
    kms = clockedClient(trent.url, clock)
    // startServer resolves after the job's first run: the catch-up is done before serving.
    const listed = await rotations(key.id)
    assert.equal(listed.length, before + 1)
    assert.equal(listed.at(-1)!.RotationType, 'AUTOMATIC')
    near((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.id }))).NextRotationDate, clock.now() + 90 * DAY)
    assert.deepEqual(await decrypt(firstBlob), { text: 'before any rotation', keyMaterialId: firstMaterial })
  })

  it('two nodes on one store rotate a due key exactly once', async () => {
    const second = await start()
    try {
      clock.offsetMs += 91 * DAY
      const before = (await rotations(key.id)).length
      const runs = await Promise.all([trent!.runKeyMaterialJobs(), second.runKeyMaterialJobs(), trent!.runKeyMaterialJobs()])
      assert.equal(runs.reduce((n, r) => n + r.rotated, 0), 1)
      assert.equal((await rotations(key.id)).length, before + 1)
    } finally {
      await second.close()
    }
  })

  it('DisableKeyRotation stops automatic rotation but not on-demand rotation', async () => {
    const other = await newKey()
    await kms.send(new EnableKeyRotationCommand({ KeyId: other.id, RotationPeriodInDays: 90 }))
    await kms.send(new DisableKeyRotationCommand({ KeyId: other.id }))
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: other.id }))
    assert.deepEqual([status.KeyRotationEnabled, status.RotationPeriodInDays, status.NextRotationDate], [false, undefined, undefined])
    clock.offsetMs += 200 * DAY
    await trent!.runKeyMaterialJobs()
    assert.deepEqual(await rotations(other.id), [])
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: other.id }))
    assert.equal((await rotations(other.id)).length, 1)
  })

  it('ListKeyRotations validates its input and refuses markers it did not issue', async () => {
    await rejects(kms.send(new ListKeyRotationsCommand({ KeyId: key.id, Limit: 0 })), 'ValidationException')
    await rejects(kms.send(new ListKeyRotationsCommand({ KeyId: key.id, Marker: 'bogus' })), 'InvalidMarkerException')
    await rejects(kms.send(new ListKeyRotationsCommand({ KeyId: key.id, IncludeKeyMaterial: 'SOME' as 'ALL_KEY_MATERIAL' })), 'ValidationException')
    const first = await kms.send(new ListKeyRotationsCommand({ KeyId: key.id, Limit: 5 }))
    assert.equal(first.Rotations!.length, 5)
    assert.equal(first.Truncated, true)
  })
})
