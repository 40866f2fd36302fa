import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash, createPublicKey } from 'node:crypto'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GetKeyRotationStatusCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
  type AlgorithmSpec,
  type ImportKeyMaterialCommandInput,
  type KMSClient,
  type WrappingKeySpec,
} from '@aws-sdk/client-kms'
import Database from 'better-sqlite3'
import { startServer, type RunningTrent } from '../../src/main.js'
import type { SystemEvent } from '../../src/service/key-material.js'
import { ACCOUNT, CREDENTIALS, REGION, rejectsWithKmsError as rejects, tempDataDir } from './harness.js'
import { ShiftedClock, clockedClient } from './shifted-clock.js'
import { Customer } from './byok-customer.js'

const DAY = 24 * 60 * 60 * 1000

describe('imported key material (BYOK): GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial, expiry', () => {
  const data = tempDataDir()
  const clock = new ShiftedClock()
  const customer = new Customer()
  const events: SystemEvent[] = []
  let trent: RunningTrent | undefined
  let kms: KMSClient

  async function start(): Promise<void> {
    trent = await startServer({ host: '127.0.0.1', port: 0, dataDir: data.dir, region: REGION, accountId: ACCOUNT, admin: CREDENTIALS, clock, onSystemEvent: (e) => void events.push(e) })
    kms = clockedClient(trent.url, clock)
  }
  async function stop(): Promise<void> {
    kms?.destroy()
    await trent?.close()
    trent = undefined
  }

  before(() => {
    assert.match(execFileSync('openssl', ['version']).toString(), /^OpenSSL 3\./, 'AWS_AES key wrap with padding needs OpenSSL 3')
  })
  after(async () => {
    await stop()
    customer.cleanup()
    data.cleanup()
  })

  const context = { byok: 'yes' }
  async function externalKey(): Promise<{ id: string; arn: string }> {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL', Description: 'byok' }))
    return { id: KeyMetadata!.KeyId!, arn: KeyMetadata!.Arn! }
  }
  async function parameters(keyId: string, algorithm: AlgorithmSpec = 'RSAES_OAEP_SHA_256', spec: WrappingKeySpec = 'RSA_2048') {
    return kms.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: spec }))
  }
  /** Gets parameters, wraps with openssl and imports; returns the KeyMaterialId. */
  async function importMaterial(keyId: string, material: Buffer, extra: Partial<ImportKeyMaterialCommandInput> = { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }, algorithm: AlgorithmSpec = 'RSAES_OAEP_SHA_256') {
    const p = await parameters(keyId, algorithm)
    const res = await kms.send(new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: customer.wrap(p.PublicKey!, algorithm, material), ...extra }))
    return res.KeyMaterialId!
  }
  async function describe_(keyId: string) {
    return (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!
  }
  async function encrypt(keyId: string, text: string): Promise<Uint8Array> {
    return (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(text), EncryptionContext: context }))).CiphertextBlob!
  }
  async function decrypt(blob: Uint8Array): Promise<string> {
    return Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context }))).Plaintext!).toString()
  }
  /** Reads the data dir's database straight (a second, read-only connection). */
  function query<T>(sql: string, ...params: unknown[]): T | undefined {
    const db = new Database(join(data.dir, 'trent.db'), { readonly: true, fileMustExist: true })
    try {
      return db.prepare(sql).get(...params) as T | undefined
    } finally {
      db.close()
    }
  }
  const storedEkt = (keyId: string, keyMaterialId: string) => query<{ ekt: Buffer }>('SELECT ekt FROM key_materials WHERE key_id = ? AND key_material_id = ?', keyId, keyMaterialId)?.ekt
  const storedTokens = (keyId: string) => query<{ n: number }>('SELECT count(*) AS n FROM import_tokens WHERE key_id = ?', keyId)!.n

  let key: { id: string; arn: string }
  let material: Buffer
  let materialId: string
  let blob: Uint8Array

  it('starts in process with a movable clock', async () => {
    await start()
  })

  it('CreateKey with Origin EXTERNAL: PendingImport, not enabled, no material', async () => {
    key = await externalKey()
    const m = await describe_(key.id)
    assert.deepEqual([m.Origin, m.KeyState, m.Enabled, m.CurrentKeyMaterialId, m.ExpirationModel], ['EXTERNAL', 'PendingImport', false, undefined, undefined])
    await rejects(encrypt(key.id, 'x'), 'KMSInvalidStateException', `${key.arn} is pending import.`)
    await rejects(kms.send(new EnableKeyRotationCommand({ KeyId: key.id })), 'UnsupportedOperationException', `${key.arn} origin is EXTERNAL which is not valid for this operation.`)
    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.id }))).KeyRotationEnabled, false)
  })

  it('GetParametersForImport: an RSA public key of the spec, a token, valid for 24 hours; refused for AWS_KMS keys and PKCS#1 v1.5', async () => {
    for (const [spec, bits] of [['RSA_2048', 2048], ['RSA_3072', 3072], ['RSA_4096', 4096]] as const) {
      const p = await parameters(key.id, 'RSA_AES_KEY_WRAP_SHA_256', spec)
      assert.equal(p.KeyId, key.arn)
      const publicKey = createPublicKey({ key: Buffer.from(p.PublicKey!), format: 'der', type: 'spki' })
      assert.equal(publicKey.asymmetricKeyType, 'rsa')
      assert.equal(publicKey.asymmetricKeyDetails?.modulusLength, bits)
      assert.ok(p.ImportToken!.length >= 32)
      assert.ok(Math.abs(p.ParametersValidTo!.getTime() - (clock.now() + DAY)) < 60_000)
    }
    const awsKey = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!
    await rejects(parameters(awsKey.KeyId!), 'UnsupportedOperationException', `${awsKey.Arn} origin is AWS_KMS which is not valid for this operation.`)
    await rejects(parameters(key.id, 'RSAES_PKCS1_V1_5'), 'UnsupportedOperationException')
    await rejects(parameters(key.id, 'RSAES_OAEP_SHA_256', 'NOPE' as WrappingKeySpec), 'ValidationException')
  })

  it('ImportKeyMaterial validates the expiration model before anything else', async () => {
    const p = await parameters(key.id)
    const wrapped = customer.wrap(p.PublicKey!, 'RSAES_OAEP_SHA_256', customer.material())
    const send = (extra: Partial<ImportKeyMaterialCommandInput>) => kms.send(new ImportKeyMaterialCommand({ KeyId: key.id, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ...extra }))
    await rejects(send({}), 'ValidationException', 'A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES')
    await rejects(send({ ExpirationModel: 'KEY_MATERIAL_EXPIRES' }), 'ValidationException', 'A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES')
    await rejects(send({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(clock.now() + 366 * DAY) }), 'ValidationException')
    await rejects(send({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(clock.now() - 1000) }), 'ValidationException')
    await rejects(send({ ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ValidTo: new Date(clock.now() + DAY) }), 'ValidationException')
    assert.equal((await describe_(key.id)).KeyState, 'PendingImport', 'unchanged')
  })

  for (const [algorithm, spec] of [
    ['RSAES_OAEP_SHA_1', 'RSA_2048'],
    ['RSAES_OAEP_SHA_256', 'RSA_3072'],
    ['RSA_AES_KEY_WRAP_SHA_1', 'RSA_4096'],
    ['RSA_AES_KEY_WRAP_SHA_256', 'RSA_2048'],
  ] as const) {
    it(`imports material wrapped by openssl with ${algorithm} under ${spec}`, async () => {
      const k = await externalKey()
      const p = await parameters(k.id, algorithm, spec)
      const res = await kms.send(
        new ImportKeyMaterialCommand({ KeyId: k.id, ImportToken: p.ImportToken, EncryptedKeyMaterial: customer.wrap(p.PublicKey!, algorithm, customer.material()), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }),
      )
      assert.equal(res.KeyId, k.arn)
      assert.match(res.KeyMaterialId!, /^[0-9a-f]{64}$/)
      const m = await describe_(k.id)
      assert.deepEqual([m.KeyState, m.Enabled, m.CurrentKeyMaterialId, m.ExpirationModel, m.ValidTo], ['Enabled', true, res.KeyMaterialId, 'KEY_MATERIAL_DOES_NOT_EXPIRE', undefined])
      assert.equal(await decrypt(await encrypt(k.id, `hello ${algorithm}`)), `hello ${algorithm}`)
    })
  }

  it('imports into the first key; the import token is usable once and only for its key', async () => {
    material = customer.material()
    const p = await parameters(key.id)
    const other = await externalKey()
    const foreign = await parameters(other.id)
    const wrapped = customer.wrap(p.PublicKey!, 'RSAES_OAEP_SHA_256', material)
    const send = (token: Uint8Array, encrypted: Uint8Array = wrapped) =>
      kms.send(new ImportKeyMaterialCommand({ KeyId: key.id, ImportToken: token, EncryptedKeyMaterial: encrypted, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }))
    await rejects(send(foreign.ImportToken!), 'InvalidImportTokenException')
    await rejects(send(Buffer.from('not a token')), 'InvalidImportTokenException')
    // A wrap that does not open spends nothing: the same token then works.
    await rejects(send(p.ImportToken!, Buffer.alloc(256, 7)), 'InvalidCiphertextException')
    await rejects(send(p.ImportToken!, customer.wrap(foreign.PublicKey!, 'RSAES_OAEP_SHA_256', material)), 'InvalidCiphertextException')
    materialId = (await send(p.ImportToken!)).KeyMaterialId!
    await rejects(send(p.ImportToken!), 'InvalidImportTokenException')
    assert.equal((await describe_(key.id)).CurrentKeyMaterialId, materialId)
    blob = await encrypt(key.id, 'imported secret')
    assert.equal(await decrypt(blob), 'imported secret')
    // The id is keyed: no fingerprint of the material.
    assert.notEqual(materialId, createHash('sha256').update(material).digest('hex'))
  })

  it('an import token expires after 24 hours', async () => {
    const p = await parameters(key.id)
    clock.offsetMs += DAY + 60_000
    await rejects(
      kms.send(new ImportKeyMaterialCommand({ KeyId: key.id, ImportToken: p.ImportToken, EncryptedKeyMaterial: customer.wrap(p.PublicKey!, 'RSAES_OAEP_SHA_256', material), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })),
      'ExpiredImportTokenException',
    )
    // The job deletes expired tokens with their wrapped private keys.
    assert.ok(storedTokens(key.id) > 0)
    await trent!.runKeyMaterialJobs()
    assert.equal(storedTokens(key.id), 0)
  })

  it('a key accepts only its own material again; the same material into another key gets another id', async () => {
    await rejects(importMaterial(key.id, customer.material()), 'IncorrectKeyMaterialException')
    await rejects(importMaterial(key.id, customer.material(), { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ImportType: 'EXISTING_KEY_MATERIAL' }), 'IncorrectKeyMaterialException')
    assert.equal(await importMaterial(key.id, material), materialId, 'the same material has the same id')
    const twin = await externalKey()
    const twinId = await importMaterial(twin.id, material)
    assert.notEqual(twinId, materialId)
    // Same bytes, different keys: the blob names its key, so the twin cannot decrypt it.
    await rejects(kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context, KeyId: twin.id })), 'IncorrectKeyException')
  })

  it('DeleteImportedKeyMaterial: PendingImport, the EKT gone, CurrentKeyMaterialId kept; the same material restores every ciphertext', async () => {
    assert.ok(storedEkt(key.id, materialId)!.length > 0)
    const res = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.id }))
    assert.deepEqual([res.KeyId, res.KeyMaterialId], [key.arn, materialId])
    const m = await describe_(key.id)
    assert.deepEqual([m.KeyState, m.Enabled, m.CurrentKeyMaterialId, m.ExpirationModel], ['PendingImport', false, materialId, undefined])
    assert.equal(storedEkt(key.id, materialId)!.length, 0)
    await rejects(decrypt(blob), 'KMSInvalidStateException', `${key.arn} is pending import.`)
    await rejects(encrypt(key.id, 'x'), 'KMSInvalidStateException', `${key.arn} is pending import.`)
    const awsKey = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!
    await rejects(kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: awsKey.Arn })), 'UnsupportedOperationException', `${awsKey.Arn} origin is AWS_KMS which is not valid for this operation.`)

    await rejects(importMaterial(key.id, customer.material()), 'IncorrectKeyMaterialException')
    assert.equal(await importMaterial(key.id, material, { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }, 'RSA_AES_KEY_WRAP_SHA_1'), materialId)
    assert.equal((await describe_(key.id)).KeyState, 'Enabled')
    assert.equal(await decrypt(blob), 'imported secret')
  })

  it('material that expires: ValidTo on DescribeKey; at ValidTo the job deletes it and the key is PendingImport', async () => {
    const validTo = clock.now() + 2 * DAY
    assert.equal(await importMaterial(key.id, material, { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(validTo) }), materialId)
    let m = await describe_(key.id)
    assert.equal(m.ExpirationModel, 'KEY_MATERIAL_EXPIRES')
    assert.ok(Math.abs(m.ValidTo!.getTime() - validTo) < 1000)
    assert.deepEqual(await trent!.runKeyMaterialJobs(), { rotated: 0, expired: 0 })
    clock.offsetMs += 2 * DAY + 60_000
    assert.deepEqual(await trent!.runKeyMaterialJobs(), { rotated: 0, expired: 1 })
    m = await describe_(key.id)
    assert.deepEqual([m.KeyState, m.Enabled, m.CurrentKeyMaterialId, m.ExpirationModel, m.ValidTo], ['PendingImport', false, materialId, undefined, undefined])
    assert.equal(storedEkt(key.id, materialId)!.length, 0)
    assert.deepEqual(events.map((e) => [e.eventName, e.keyArn, e.keyMaterialId]), [['DeleteExpiredKeyMaterial', key.arn, materialId]])
    const listed = (await kms.send(new ListKeyRotationsCommand({ KeyId: key.id, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }))).Rotations!
    assert.deepEqual(listed.map((r) => [r.KeyMaterialId, r.KeyMaterialState, r.ImportState]), [[materialId, 'CURRENT', 'PENDING_IMPORT']])
    await rejects(decrypt(blob), 'KMSInvalidStateException', `${key.arn} is pending import.`)
    assert.equal(await importMaterial(key.id, material), materialId)
    assert.equal(await decrypt(blob), 'imported secret')
  })

  it('material expiring while the server is down is deleted at start', async () => {
    await importMaterial(key.id, material, { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(clock.now() + DAY) })
    await stop()
    clock.offsetMs += 2 * DAY
    await start()
    assert.equal((await describe_(key.id)).KeyState, 'PendingImport')
    assert.equal(events.at(-1)?.eventName, 'DeleteExpiredKeyMaterial')
    assert.equal(await importMaterial(key.id, material), materialId)
    assert.equal(await decrypt(blob), 'imported secret')
  })

  it('on-demand rotation of an imported key: NEW_KEY_MATERIAL is pending until RotateKeyOnDemand makes it current', async () => {
    await rejects(kms.send(new RotateKeyOnDemandCommand({ KeyId: key.id })), 'KMSInvalidStateException', `No available key material pending rotation for the key: ${key.arn}.`)
    const next = customer.material()
    const described = (description: string) => ({ ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' as const, ImportType: 'NEW_KEY_MATERIAL' as const, KeyMaterialDescription: description })
    // AWS's pattern for a description: letters, digits, whitespace and : / _ . - only.
    await rejects(importMaterial(key.id, next, described('gen+2')), 'ValidationException', /'keyMaterialDescription' failed to satisfy constraint: Member must satisfy regular expression pattern/)
    await rejects(importMaterial(key.id, next, { ...described('x'), KeyMaterialId: materialId }), 'ValidationException', /KeyMaterialId cannot be specified when ImportType is NEW_KEY_MATERIAL/)
    const nextId = await importMaterial(key.id, next, described('second generation'))
    assert.notEqual(nextId, materialId)
    assert.equal((await describe_(key.id)).CurrentKeyMaterialId, materialId, 'still the first')
    let listed = (await kms.send(new ListKeyRotationsCommand({ KeyId: key.id, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }))).Rotations!
    assert.deepEqual(listed.map((r) => [r.KeyMaterialId, r.KeyMaterialState, r.ImportState, r.KeyMaterialDescription]), [
      [materialId, 'CURRENT', 'IMPORTED', undefined],
      [nextId, 'PENDING_ROTATION', 'IMPORTED', 'second generation'],
    ])
    assert.deepEqual((await kms.send(new ListKeyRotationsCommand({ KeyId: key.id }))).Rotations, [], 'no rotation yet')
    const third = customer.material()
    const p = await parameters(key.id)
    await rejects(
      kms.send(new ImportKeyMaterialCommand({ KeyId: key.id, ImportToken: p.ImportToken, EncryptedKeyMaterial: customer.wrap(p.PublicKey!, 'RSAES_OAEP_SHA_256', third), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ImportType: 'NEW_KEY_MATERIAL' })),
      'KMSInvalidStateException',
      new RegExp(`^New key material \\(id: [0-9a-f]{64}\\) cannot be imported into KMS key ${key.id}, because another key material \\(id: ${nextId}\\) is pending rotation\\.$`),
    )

    assert.equal((await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.id }))).KeyId, key.arn)
    assert.equal((await describe_(key.id)).CurrentKeyMaterialId, nextId)
    listed = (await kms.send(new ListKeyRotationsCommand({ KeyId: key.id, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }))).Rotations!
    assert.deepEqual(listed.map((r) => [r.KeyMaterialId, r.KeyMaterialState, r.RotationType]), [
      [materialId, 'NON_CURRENT', undefined],
      [nextId, 'CURRENT', 'ON_DEMAND'],
    ])
    const newBlob = await encrypt(key.id, 'under the second')
    const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: newBlob, EncryptionContext: context }))
    assert.equal(decrypted.KeyMaterialId, nextId)
    assert.equal(await decrypt(blob), 'imported secret', 'the first material still decrypts')
    await rejects(kms.send(new RotateKeyOnDemandCommand({ KeyId: key.id })), 'KMSInvalidStateException', `No available key material pending rotation for the key: ${key.arn}.`)

    // The old material deleted and imported again (EXISTING_KEY_MATERIAL names it by id).
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.id, KeyMaterialId: materialId }))
    assert.equal((await describe_(key.id)).KeyState, 'Enabled', 'the current material is untouched')
    await rejects(decrypt(blob), 'InvalidCiphertextException')
    assert.equal(await importMaterial(key.id, material, { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ImportType: 'EXISTING_KEY_MATERIAL', KeyMaterialId: materialId }), materialId)
    assert.equal(await decrypt(blob), 'imported secret')
    assert.equal((await describe_(key.id)).CurrentKeyMaterialId, nextId)
  })
})
