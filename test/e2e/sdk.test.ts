import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateRandomCommand,
  KMSClient,
  KMSServiceException,
  ListKeysCommand,
  ReEncryptCommand,
} from '@aws-sdk/client-kms'
import { ACCOUNT, REGION, kmsClient, startTestServer, tempDataDir, type TestServer, rejectsWithKmsError } from './harness.js'

const rejects = rejectsWithKmsError

describe('AWS SDK for JavaScript v3 against trent serve', () => {
  const data = tempDataDir()
  let server: TestServer
  let kms: KMSClient
  let keyArn: string
  let keyId: string

  before(async () => {
    server = await startTestServer(data.dir)
    kms = kmsClient(server.url)
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 'e2e', Tags: [{ TagKey: 'team', TagValue: 'core' }] }))
    keyArn = KeyMetadata!.Arn!
    keyId = KeyMetadata!.KeyId!
  })
  after(async () => {
    kms?.destroy()
    await server?.stop()
    data.cleanup()
  })

  it('CreateKey returns the metadata AWS returns for a symmetric key', async () => {
    const { KeyMetadata: m } = await kms.send(new CreateKeyCommand({}))
    assert.ok(m)
    assert.match(m.KeyId!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    assert.equal(m.Arn, `arn:aws:kms:${REGION}:${ACCOUNT}:key/${m.KeyId}`)
    assert.equal(m.AWSAccountId, ACCOUNT)
    assert.equal(m.Enabled, true)
    assert.equal(m.KeyState, 'Enabled')
    assert.equal(m.KeyUsage, 'ENCRYPT_DECRYPT')
    assert.equal(m.KeySpec, 'SYMMETRIC_DEFAULT')
    assert.equal(m.CustomerMasterKeySpec, 'SYMMETRIC_DEFAULT')
    assert.equal(m.Origin, 'AWS_KMS')
    assert.equal(m.KeyManager, 'CUSTOMER')
    assert.equal(m.MultiRegion, false)
    assert.equal(m.Description, '')
    assert.deepEqual(m.EncryptionAlgorithms, ['SYMMETRIC_DEFAULT'])
    assert.match(m.CurrentKeyMaterialId!, /^[0-9a-f]{64}$/)
    assert.ok(m.CreationDate instanceof Date && Math.abs(m.CreationDate.getTime() - Date.now()) < 60_000)
    assert.equal(m.MultiRegionConfiguration, undefined)
    assert.equal(m.SigningAlgorithms, undefined)
  })

  it('DescribeKey accepts the key id and the key ARN', async () => {
    for (const id of [keyId, keyArn]) {
      const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: id }))
      assert.equal(KeyMetadata?.Arn, keyArn)
      assert.equal(KeyMetadata?.Description, 'e2e')
    }
  })

  it('Encrypt and Decrypt round trip with an encryption context, returning the key ARN', async () => {
    const plaintext = new TextEncoder().encode('attack at dawn')
    const ctx = { purpose: 'test', 'ünïcode': '✓' }
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: ctx }))
    assert.equal(enc.KeyId, keyArn)
    assert.equal(enc.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT')
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { 'ünïcode': '✓', purpose: 'test' } }))
    assert.equal(dec.KeyId, keyArn)
    assert.equal(dec.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT')
    assert.match(dec.KeyMaterialId!, /^[0-9a-f]{64}$/)
    assert.deepEqual(Buffer.from(dec.Plaintext!), Buffer.from(plaintext))
    const dec2 = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ctx, KeyId: keyArn }))
    assert.deepEqual(Buffer.from(dec2.Plaintext!), Buffer.from(plaintext))
  })

  it('Encrypt takes exactly 1..4096 bytes', async () => {
    const max = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: new Uint8Array(4096).fill(7) }))
    const back = await kms.send(new DecryptCommand({ CiphertextBlob: max.CiphertextBlob }))
    assert.equal(back.Plaintext!.length, 4096)
    await rejects(
      kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: new Uint8Array(4097) })),
      'ValidationException',
      "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096",
    )
  })

  it('a wrong, missing or extra encryption context gives InvalidCiphertextException', async () => {
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), EncryptionContext: { a: '1' } }))
    await rejects(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: '2' } })), 'InvalidCiphertextException')
    await rejects(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })), 'InvalidCiphertextException')
    await rejects(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: '1', b: '2' } })), 'InvalidCiphertextException')
    await rejects(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { A: '1' } })), 'InvalidCiphertextException')
  })

  it('corrupted, truncated and extended ciphertexts all give the same InvalidCiphertextException', async () => {
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('secret') }))
    const blob = Buffer.from(CiphertextBlob!)
    const variants = [blob.subarray(0, blob.length - 1), Buffer.concat([blob, Buffer.from([0])]), blob.subarray(0, 10), Buffer.from([1])]
    for (const i of [0, 1, 5, 20, 40, 60, 80, blob.length - 1]) {
      const c = Buffer.from(blob)
      c[i]! ^= 0x01
      variants.push(c)
    }
    const messages = new Set<string>()
    for (const v of variants) {
      await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: v })), (e: KMSServiceException) => {
        assert.equal(e.name, 'InvalidCiphertextException')
        messages.add(e.message)
        return true
      })
    }
    // The server sends an empty message (as AWS does); the SDK shows an empty message as 'UnknownError'.
    assert.deepEqual([...messages], ['UnknownError'])
  })

  it('Decrypt with a KeyId that did not encrypt the blob gives IncorrectKeyException', async () => {
    const other = await kms.send(new CreateKeyCommand({}))
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))
    await rejects(
      kms.send(new DecryptCommand({ CiphertextBlob, KeyId: other.KeyMetadata!.KeyId! })),
      'IncorrectKeyException',
      'The key ID in the request does not identify a CMK that can perform this operation.',
    )
  })

  it('ReEncrypt moves a ciphertext to another key and context without exposing the plaintext', async () => {
    const dest = await kms.send(new CreateKeyCommand({}))
    const destArn = dest.KeyMetadata!.Arn!
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('move me'), EncryptionContext: { v: '1' } }))
    const re = await kms.send(
      new ReEncryptCommand({ CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: { v: '1' }, DestinationKeyId: destArn, DestinationEncryptionContext: { v: '2' } }),
    )
    assert.equal(re.SourceKeyId, keyArn)
    assert.equal(re.KeyId, destArn)
    assert.equal(re.SourceEncryptionAlgorithm, 'SYMMETRIC_DEFAULT')
    assert.equal(re.DestinationEncryptionAlgorithm, 'SYMMETRIC_DEFAULT')
    assert.match(re.SourceKeyMaterialId!, /^[0-9a-f]{64}$/)
    assert.match(re.DestinationKeyMaterialId!, /^[0-9a-f]{64}$/)
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { v: '2' } }))
    assert.equal(dec.KeyId, destArn)
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'move me')
    await rejects(
      kms.send(new ReEncryptCommand({ CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: { v: '1' }, SourceKeyId: destArn, DestinationKeyId: destArn })),
      'IncorrectKeyException',
    )
    await rejects(kms.send(new ReEncryptCommand({ CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: destArn })), 'InvalidCiphertextException')
  })

  it('GenerateDataKey with KeySpec or NumberOfBytes returns a data key and its ciphertext', async () => {
    for (const [input, length] of [[{ KeySpec: 'AES_256' as const }, 32], [{ KeySpec: 'AES_128' as const }, 16], [{ NumberOfBytes: 24 }, 24], [{ NumberOfBytes: 1 }, 1], [{ NumberOfBytes: 1024 }, 1024]] as const) {
      const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyArn, EncryptionContext: { k: 'v' }, ...input }))
      assert.equal(dk.KeyId, keyArn)
      assert.equal(dk.Plaintext!.length, length)
      assert.match(dk.KeyMaterialId!, /^[0-9a-f]{64}$/)
      const dec = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { k: 'v' } }))
      assert.deepEqual(Buffer.from(dec.Plaintext!), Buffer.from(dk.Plaintext!))
    }
    await rejects(kms.send(new GenerateDataKeyCommand({ KeyId: keyArn })), 'ValidationException', 'Please specify either number of bytes or key spec.')
    await rejects(kms.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256', NumberOfBytes: 32 })), 'ValidationException')
    await rejects(
      kms.send(new GenerateDataKeyCommand({ KeyId: keyArn, NumberOfBytes: 1025 })),
      'ValidationException',
      "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
    )
  })

  it('GenerateDataKeyWithoutPlaintext returns only the ciphertext', async () => {
    const dk = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, KeySpec: 'AES_256' }))
    assert.equal((dk as unknown as Record<string, unknown>)['Plaintext'], undefined)
    assert.equal(dk.KeyId, keyArn)
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }))
    assert.equal(dec.Plaintext!.length, 32)
  })

  it('GenerateRandom returns fresh bytes and AWS errors for bad sizes', async () => {
    const a = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 32 }))
    const b = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 32 }))
    assert.equal(a.Plaintext!.length, 32)
    assert.notDeepEqual(Buffer.from(a.Plaintext!), Buffer.from(b.Plaintext!))
    await rejects(kms.send(new GenerateRandomCommand({})), 'ValidationException', 'NumberOfBytes is required.')
    await rejects(
      kms.send(new GenerateRandomCommand({ NumberOfBytes: 0 })),
      'ValidationException',
      "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1",
    )
  })

  it('ListKeys pages with Limit and Marker', async () => {
    for (let i = 0; i < 5; i++) await kms.send(new CreateKeyCommand({}))
    const all: string[] = []
    let marker: string | undefined
    let pages = 0
    do {
      const page = await kms.send(new ListKeysCommand({ Limit: 2, ...(marker ? { Marker: marker } : {}) }))
      pages++
      for (const k of page.Keys!) {
        assert.equal(k.KeyArn, `arn:aws:kms:${REGION}:${ACCOUNT}:key/${k.KeyId}`)
        all.push(k.KeyId!)
      }
      assert.equal(page.Truncated, page.NextMarker !== undefined)
      marker = page.NextMarker
    } while (marker)
    assert.ok(all.length >= 6)
    assert.equal(new Set(all).size, all.length)
    assert.equal(pages, Math.ceil(all.length / 2))
    assert.ok(all.includes(keyId))
    await rejects(kms.send(new ListKeysCommand({ Marker: 'not-a-marker' })), 'InvalidMarkerException')
  })

  it('DryRun answers DryRunOperationException when the request would succeed', async () => {
    const msg = 'The request would have succeeded, but the DryRun option is set.'
    await rejects(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), DryRun: true })), 'DryRunOperationException', msg)
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))
    await rejects(kms.send(new DecryptCommand({ CiphertextBlob, DryRun: true })), 'DryRunOperationException', msg)
    await rejects(kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', DryRun: true })), 'DryRunOperationException', msg)
    await rejects(kms.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: keyId, DryRun: true })), 'DryRunOperationException', msg)
    // A dry run that would fail reports the failure instead.
    await rejects(kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from('garbage'), DryRun: true })), 'InvalidCiphertextException')
  })

  it('unknown and malformed key ids give AWS NotFoundException messages', async () => {
    await rejects(kms.send(new DescribeKeyCommand({ KeyId: 'fake-key-id' })), 'NotFoundException', "Invalid keyId 'fake-key-id'")
    const missing = '00000000-0000-4000-8000-000000000000'
    await rejects(
      kms.send(new EncryptCommand({ KeyId: missing, Plaintext: Buffer.from('x') })),
      'NotFoundException',
      `Key 'arn:aws:kms:${REGION}:${ACCOUNT}:key/${missing}' does not exist`,
    )
    await rejects(kms.send(new DescribeKeyCommand({ KeyId: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${keyId}` })), 'NotFoundException', 'Invalid arn eu-west-1')
    await rejects(
      kms.send(new EncryptCommand({ KeyId: 'alias/nope', Plaintext: Buffer.from('x') })),
      'NotFoundException',
      `Alias arn:aws:kms:${REGION}:${ACCOUNT}:alias/nope is not found.`,
    )
  })

  it('CreateKey refuses what is not built yet with a clear error', async () => {
    await rejects(kms.send(new CreateKeyCommand({ KeySpec: 'SM2', KeyUsage: 'SIGN_VERIFY' })), 'UnsupportedOperationException', /SM2/)
    await rejects(kms.send(new CreateKeyCommand({ KeyUsage: 'SIGN_VERIFY' })), 'ValidationException', 'KeyUsage SIGN_VERIFY is not compatible with KeySpec SYMMETRIC_DEFAULT')
    await rejects(kms.send(new CreateKeyCommand({ Tags: [{ TagKey: 'aws:x', TagValue: 'y' }] })), 'TagException', 'Tags beginning with aws: are reserved')
    await rejects(kms.send(new CreateKeyCommand({ Policy: '{not json' })), 'MalformedPolicyDocumentException')
  })
})
