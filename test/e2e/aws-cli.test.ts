import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DecryptCommand, type KMSClient } from '@aws-sdk/client-kms'
import { ACCOUNT, REGION, awsCli, kmsClient, startTestServer, tempDataDir, type TestServer } from './harness.js'

describe('AWS CLI v2 against trent serve', { timeout: 180_000 }, () => {
  const data = tempDataDir()
  // HOME, config and credentials files of our own: nothing from the user's ~/.aws can interfere.
  const home = mkdtempSync(join(tmpdir(), 'trent-aws-cli-'))
  let server: TestServer
  let kms: KMSClient
  let keyArn: string
  let keyId: string
  let otherKeyArn: string
  const plaintext = Buffer.concat([Buffer.from('trent aws cli plaintext '), randomBytes(64)])
  const plaintextFile = join(home, 'plaintext.bin')
  const ciphertextFile = join(home, 'ciphertext.bin')
  const context = { purpose: 'cli-test', app: 'trent' }
  const contextArg = 'purpose=cli-test,app=trent'

  const aws = (args: string[]) => awsCli(server.url, home, args)

  /** Runs a command that must succeed and parses its JSON output. */
  async function awsJson(args: string[]): Promise<any> {
    const r = await aws(args)
    assert.equal(r.code, 0, `aws kms ${args.join(' ')} exited ${r.code}:\n${r.stderr}`)
    return JSON.parse(r.stdout)
  }

  before(async () => {
    writeFileSync(join(home, 'config'), '')
    writeFileSync(join(home, 'credentials'), '')
    writeFileSync(plaintextFile, plaintext)
    server = await startTestServer(data.dir)
    kms = kmsClient(server.url)
  })
  after(async () => {
    kms?.destroy()
    await server?.stop()
    data.cleanup()
    rmSync(home, { recursive: true, force: true })
  })

  it('create-key with --description and --tags', async () => {
    const out = await awsJson(['create-key', '--description', 'cli key', '--tags', 'TagKey=team,TagValue=cli', 'TagKey=env,TagValue=test'])
    const m = out.KeyMetadata
    assert.match(m.KeyId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    assert.equal(m.Arn, `arn:aws:kms:${REGION}:${ACCOUNT}:key/${m.KeyId}`)
    assert.equal(m.Description, 'cli key')
    assert.equal(m.KeyState, 'Enabled')
    assert.equal(m.Enabled, true)
    assert.equal(m.KeyUsage, 'ENCRYPT_DECRYPT')
    assert.equal(m.KeySpec, 'SYMMETRIC_DEFAULT')
    assert.equal(m.Origin, 'AWS_KMS')
    assert.deepEqual(m.EncryptionAlgorithms, ['SYMMETRIC_DEFAULT'])
    keyArn = m.Arn
    keyId = m.KeyId
    const other = await awsJson(['create-key'])
    otherKeyArn = other.KeyMetadata.Arn
    assert.notEqual(otherKeyArn, keyArn)
  })

  it('describe-key by key id returns the same metadata', async () => {
    const out = await awsJson(['describe-key', '--key-id', keyId])
    assert.equal(out.KeyMetadata.Arn, keyArn)
    assert.equal(out.KeyMetadata.KeyId, keyId)
    assert.equal(out.KeyMetadata.Description, 'cli key')
    assert.equal(out.KeyMetadata.AWSAccountId, ACCOUNT)
    // The CLI parsed CreationDate as a timestamp and printed it back as ISO 8601.
    assert.ok(Math.abs(Date.parse(out.KeyMetadata.CreationDate) - Date.now()) < 120_000, out.KeyMetadata.CreationDate)
  })

  it('list-keys lists both keys (the CLI follows the pagination itself)', async () => {
    const out = await awsJson(['list-keys'])
    const arns = (out.Keys as { KeyId: string; KeyArn: string }[]).map((k) => k.KeyArn)
    assert.ok(arns.includes(keyArn))
    assert.ok(arns.includes(otherKeyArn))
    assert.equal(out.Truncated ?? false, false)
  })

  it('encrypt fileb:// with --encryption-context; decrypt fileb:// with the context', async () => {
    const enc = await awsJson(['encrypt', '--key-id', keyId, '--plaintext', `fileb://${plaintextFile}`, '--encryption-context', contextArg])
    assert.equal(enc.KeyId, keyArn)
    assert.equal(enc.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT')
    const blob = Buffer.from(enc.CiphertextBlob, 'base64')
    assert.ok(blob.length > plaintext.length)
    writeFileSync(ciphertextFile, blob)

    const dec = await awsJson(['decrypt', '--ciphertext-blob', `fileb://${ciphertextFile}`, '--encryption-context', JSON.stringify(context)])
    assert.equal(dec.KeyId, keyArn)
    assert.equal(dec.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT')
    assert.deepEqual(Buffer.from(dec.Plaintext, 'base64'), plaintext)

    // What the CLI encrypted, the JS SDK decrypts.
    const viaSdk = await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context }))
    assert.deepEqual(Buffer.from(viaSdk.Plaintext!), plaintext)
  })

  it('decrypt with the wrong encryption context fails with InvalidCiphertextException, exit code 254', async () => {
    const r = await aws(['decrypt', '--ciphertext-blob', `fileb://${ciphertextFile}`, '--encryption-context', 'purpose=other,app=trent'])
    assert.equal(r.code, 254, `stdout: ${r.stdout}\nstderr: ${r.stderr}`)
    assert.match(r.stderr, /An error occurred \(InvalidCiphertextException\) when calling the Decrypt operation/)
    assert.equal(r.stdout, '')
  })

  it('re-encrypt moves the ciphertext to the other key and context', async () => {
    const re = await awsJson([
      're-encrypt',
      '--ciphertext-blob', `fileb://${ciphertextFile}`,
      '--source-encryption-context', contextArg,
      '--destination-key-id', otherKeyArn,
      '--destination-encryption-context', 'purpose=moved',
    ])
    assert.equal(re.SourceKeyId, keyArn)
    assert.equal(re.KeyId, otherKeyArn)
    assert.equal(re.SourceEncryptionAlgorithm, 'SYMMETRIC_DEFAULT')
    assert.equal(re.DestinationEncryptionAlgorithm, 'SYMMETRIC_DEFAULT')
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from(re.CiphertextBlob, 'base64'), EncryptionContext: { purpose: 'moved' } }))
    assert.equal(dec.KeyId, otherKeyArn)
    assert.deepEqual(Buffer.from(dec.Plaintext!), plaintext)
  })

  it('generate-data-key with --key-spec AES_256 and with --number-of-bytes', async () => {
    const a = await awsJson(['generate-data-key', '--key-id', keyArn, '--key-spec', 'AES_256', '--encryption-context', contextArg])
    assert.equal(a.KeyId, keyArn)
    const aKey = Buffer.from(a.Plaintext, 'base64')
    assert.equal(aKey.length, 32)
    const aBack = await kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from(a.CiphertextBlob, 'base64'), EncryptionContext: context }))
    assert.deepEqual(Buffer.from(aBack.Plaintext!), aKey)

    const b = await awsJson(['generate-data-key', '--key-id', keyId, '--number-of-bytes', '24'])
    assert.equal(b.KeyId, keyArn)
    const bKey = Buffer.from(b.Plaintext, 'base64')
    assert.equal(bKey.length, 24)
    const bBack = await kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from(b.CiphertextBlob, 'base64') }))
    assert.deepEqual(Buffer.from(bBack.Plaintext!), bKey)
  })

  it('generate-data-key-without-plaintext returns only a ciphertext', async () => {
    const out = await awsJson(['generate-data-key-without-plaintext', '--key-id', keyArn, '--key-spec', 'AES_128'])
    assert.equal(out.KeyId, keyArn)
    assert.equal(out.Plaintext, undefined)
    const back = await kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from(out.CiphertextBlob, 'base64') }))
    assert.equal(back.Plaintext!.length, 16)
  })

  it('generate-random returns the requested number of bytes', async () => {
    const out = await awsJson(['generate-random', '--number-of-bytes', '48'])
    assert.equal(Buffer.from(out.Plaintext, 'base64').length, 48)
  })
})
