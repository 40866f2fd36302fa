import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import {
  AlgorithmSuiteIdentifier,
  CommitmentPolicy,
  KmsKeyringNode,
  buildClient,
  getClient,
  type KmsNodeClientSupplier,
} from '@aws-crypto/client-node'
import { CreateKeyCommand, KMS, type KMSClientConfig } from '@aws-sdk/client-kms'
import { CREDENTIALS, REGION, kmsClient, startTestServer, tempDataDir, type TestServer } from './harness.js'

type EsdkKmsClient = Exclude<ReturnType<KmsNodeClientSupplier>, false>

interface RecordedCall {
  command: string
  input: Record<string, unknown>
}

describe('AWS Encryption SDK for JavaScript (KmsKeyringNode) against trent serve', { timeout: 120_000 }, () => {
  const data = tempDataDir()
  let server: TestServer
  let keyArn: string
  let secondKeyArn: string
  let unrelatedKeyArn: string
  const calls: RecordedCall[] = []
  const clients: KMS[] = []
  let clientProvider: KmsNodeClientSupplier

  const committing = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
  const context = { purpose: 'esdk-e2e', tenant: 'acme' }
  const message = randomBytes(1024 * 1024)
  let ciphertext: Buffer

  before(async () => {
    server = await startTestServer(data.dir)
    const admin = kmsClient(server.url)
    try {
      const arns: string[] = []
      for (const Description of ['esdk generator', 'esdk second', 'esdk unrelated']) {
        const { KeyMetadata } = await admin.send(new CreateKeyCommand({ Description }))
        arns.push(KeyMetadata!.Arn!)
      }
      ;[keyArn, secondKeyArn, unrelatedKeyArn] = arns as [string, string, string]
    } finally {
      admin.destroy()
    }
    // The aggregated KMS class, as the Encryption SDK needs it; every client it makes records the
    // KMS commands it sends, so the tests can see what the keyring asked of Trent.
    const config: KMSClientConfig = { endpoint: server.url, region: REGION, credentials: CREDENTIALS, maxAttempts: 1 }
    // (With exactOptionalPropertyTypes, KMS's output types, e.g. `KeyId?: string`, do not match the
    // ESDK's declared client interface, `KeyId: string`; the cast only bridges the declarations.)
    const supplier = getClient(KMS as unknown as new (config: KMSClientConfig) => EsdkKmsClient, config)
    clientProvider = (region: string) => {
      const client = supplier(region) as unknown as KMS | false
      if (client) {
        clients.push(client)
        client.middlewareStack.add(
          (next, ctx) => async (args) => {
            calls.push({ command: ctx.commandName ?? '?', input: args.input as Record<string, unknown> })
            return next(args)
          },
          { step: 'initialize', name: 'trentTestRecorder' },
        )
      }
      return client as unknown as EsdkKmsClient | false
    }
  })
  after(async () => {
    for (const c of clients) c.destroy()
    await server?.stop()
    data.cleanup()
  })

  function callsSince(mark: number): RecordedCall[] {
    return calls.slice(mark)
  }

  it('encrypts 1 MiB under a generator and a second key, and decrypts it back', async () => {
    const mark = calls.length
    const keyring = new KmsKeyringNode({ generatorKeyId: keyArn, keyIds: [secondKeyArn], clientProvider })
    const enc = await committing.encrypt(keyring, message, { encryptionContext: context })
    ciphertext = enc.result
    assert.ok(ciphertext.length > message.length)
    // The default suite under REQUIRE_ENCRYPT_REQUIRE_DECRYPT: committing, signed.
    assert.equal(enc.messageHeader.suiteId, AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384)
    const edks = enc.messageHeader.encryptedDataKeys
    assert.equal(edks.length, 2)
    assert.deepEqual(edks.map((k) => k.providerId), ['aws-kms', 'aws-kms'])
    assert.deepEqual(edks.map((k) => k.providerInfo), [keyArn, secondKeyArn])

    const encryptCalls = callsSince(mark)
    assert.deepEqual(encryptCalls.map((c) => c.command), ['GenerateDataKeyCommand', 'EncryptCommand'])
    assert.equal(encryptCalls[0]!.input['KeyId'], keyArn)
    assert.equal(encryptCalls[0]!.input['NumberOfBytes'], 32)
    assert.equal(encryptCalls[1]!.input['KeyId'], secondKeyArn)
    // The SDK adds its signing public key to the context it sends KMS.
    assert.equal((encryptCalls[0]!.input['EncryptionContext'] as Record<string, string>)['purpose'], 'esdk-e2e')

    const decMark = calls.length
    const dec = await committing.decrypt(keyring, ciphertext)
    assert.ok(dec.plaintext.equals(message))
    assert.equal(dec.messageHeader.encryptionContext['purpose'], 'esdk-e2e')
    assert.equal(dec.messageHeader.encryptionContext['tenant'], 'acme')
    // One KMS Decrypt suffices: the first EDK, under the generator key.
    const decryptCalls = callsSince(decMark)
    assert.deepEqual(decryptCalls.map((c) => c.command), ['DecryptCommand'])
    assert.equal(decryptCalls[0]!.input['KeyId'], keyArn)
  })

  it('decrypts with a keyring that holds only the second key', async () => {
    const mark = calls.length
    const onlySecond = new KmsKeyringNode({ keyIds: [secondKeyArn], clientProvider })
    const dec = await committing.decrypt(onlySecond, ciphertext)
    assert.ok(dec.plaintext.equals(message))
    const decryptCalls = callsSince(mark)
    assert.deepEqual(decryptCalls.map((c) => c.command), ['DecryptCommand'])
    assert.equal(decryptCalls[0]!.input['KeyId'], secondKeyArn)
  })

  it('does not decrypt with a keyring that holds only an unrelated key', async () => {
    const mark = calls.length
    const unrelated = new KmsKeyringNode({ keyIds: [unrelatedKeyArn], clientProvider })
    await assert.rejects(committing.decrypt(unrelated, ciphertext), /unencryptedDataKey has not been set/)
    // No EDK names that key, so the keyring does not even ask KMS.
    assert.deepEqual(callsSince(mark), [])
  })

  it('a tampered message does not decrypt', async () => {
    const keyring = new KmsKeyringNode({ generatorKeyId: keyArn, keyIds: [secondKeyArn], clientProvider })
    // A byte in the middle of the body fails its frame's GCM tag; the last byte, the signature.
    for (const [i, error] of [[Math.floor(ciphertext.length / 2), /unable to authenticate data/], [ciphertext.length - 1, /Invalid Signature/]] as const) {
      const tampered = Buffer.from(ciphertext)
      tampered[i]! ^= 0x01
      await assert.rejects(committing.decrypt(keyring, tampered), error, `flipping byte ${i} of ${ciphertext.length} must fail`)
    }
    // Truncated.
    await assert.rejects(committing.decrypt(keyring, ciphertext.subarray(0, ciphertext.length - 100)))
  })

  it('an AES-192 suite asks KMS for a 24-byte data key (NumberOfBytes 24)', async () => {
    // Non-committing suites such as AES-192 need a policy that allows them.
    const legacy = buildClient(CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT)
    const keyring = new KmsKeyringNode({ generatorKeyId: keyArn, keyIds: [secondKeyArn], clientProvider })
    const small = randomBytes(10_000)
    const mark = calls.length
    const enc = await legacy.encrypt(keyring, small, {
      encryptionContext: context,
      suiteId: AlgorithmSuiteIdentifier.ALG_AES192_GCM_IV12_TAG16_HKDF_SHA256,
    })
    assert.equal(enc.messageHeader.suiteId, AlgorithmSuiteIdentifier.ALG_AES192_GCM_IV12_TAG16_HKDF_SHA256)
    const generate = callsSince(mark).find((c) => c.command === 'GenerateDataKeyCommand')
    assert.ok(generate)
    assert.equal(generate.input['NumberOfBytes'], 24)
    assert.equal(enc.messageHeader.encryptedDataKeys.length, 2)
    const onlySecond = new KmsKeyringNode({ keyIds: [secondKeyArn], clientProvider })
    const dec = await legacy.decrypt(onlySecond, enc.result)
    assert.ok(dec.plaintext.equals(small))
    // The strict client refuses to decrypt a non-committing message.
    await assert.rejects(committing.decrypt(keyring, enc.result), /CommitmentPolicy REQUIRE_ENCRYPT_REQUIRE_DECRYPT/)
  })
})
