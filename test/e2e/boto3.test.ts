import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createPublicKey, verify as cryptoVerify } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ACCOUNT, CREDENTIALS, REGION, ROOT, startTestServer, tempDataDir, type TestServer } from './harness.js'

// Debian's python3 with python3-boto3, not a pyenv python that may lack boto3.
const PYTHON = '/usr/bin/python3'
const SCRIPT = join(ROOT, 'test/e2e/boto3-client.py')
const SCRIPT_TIMEOUT_MS = 60_000

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

describe('boto3 (Python) against trent serve', { timeout: 120_000 }, () => {
  const data = tempDataDir()
  const home = mkdtempSync(join(tmpdir(), 'trent-boto3-'))
  let server: TestServer
  let summary: any

  before(async () => {
    server = await startTestServer(data.dir)
    const env: NodeJS.ProcessEnv = {
      PATH: '/usr/bin:/bin',
      HOME: home,
      LC_ALL: 'C.UTF-8',
      PYTHONDONTWRITEBYTECODE: '1',
      AWS_CONFIG_FILE: join(home, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
    }
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(PYTHON, [SCRIPT, server.url], { env, timeout: SCRIPT_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (error, out, err) => {
        if (error) reject(new Error(`boto3-client.py failed: ${error.message}\nstderr:\n${err}\nserver output:\n${server.output.join('\n')}`))
        else resolve(out)
      })
    })
    summary = JSON.parse(stdout)
  })
  after(async () => {
    await server?.stop()
    data.cleanup()
    rmSync(home, { recursive: true, force: true })
  })

  it('create_key and describe_key', () => {
    const c = summary.create_key
    assert.match(c.KeyId, UUID)
    assert.equal(c.Arn, `arn:aws:kms:${REGION}:${ACCOUNT}:key/${c.KeyId}`)
    assert.equal(c.Description, 'boto3 key')
    assert.equal(c.KeyState, 'Enabled')
    assert.equal(c.Enabled, true)
    assert.equal(c.KeySpec, 'SYMMETRIC_DEFAULT')
    assert.equal(c.KeyUsage, 'ENCRYPT_DECRYPT')
    // botocore parsed CreationDate into a timezone-aware datetime.
    assert.ok(Math.abs(Date.parse(c.CreationDate) - Date.now()) < 120_000, c.CreationDate)
    assert.deepEqual(summary.describe_key, { KeyId: c.KeyId, Arn: c.Arn, Description: 'boto3 key', CreationDate: c.CreationDate })
  })

  it('encrypt and decrypt with a (non-ASCII) encryption context', () => {
    const e = summary.encrypt_decrypt
    assert.equal(e.encrypt_key_id, summary.create_key.Arn)
    assert.equal(e.decrypt_key_id, summary.create_key.Arn)
    assert.equal(e.encryption_algorithm, 'SYMMETRIC_DEFAULT')
    assert.ok(e.ciphertext_length > e.plaintext.length / 2)
    assert.equal(e.decrypted, e.plaintext)
  })

  it('generate_data_key returns a 32-byte key whose ciphertext decrypts to it', () => {
    const g = summary.generate_data_key
    assert.equal(g.key_id, summary.create_key.Arn)
    assert.equal(g.plaintext.length, 64)
    assert.equal(g.decrypted, g.plaintext)
  })

  it('re_encrypt moves the ciphertext to another key', () => {
    const r = summary.re_encrypt
    assert.equal(r.source_key_id, summary.create_key.Arn)
    assert.equal(r.key_id, r.destination_arn)
    assert.equal(r.decrypt_key_id, r.destination_arn)
    assert.equal(r.decrypted, summary.encrypt_decrypt.plaintext)
  })

  it('list_keys pages with Limit and Marker, and the boto3 paginator sees the same keys', () => {
    const pages: { key_ids: string[]; key_arns: string[]; truncated: boolean; next_marker: string | null }[] = summary.list_keys.pages
    // 7 keys in all: the key, the re-encrypt destination and 5 more.
    assert.equal(pages.length, 4)
    const ids = pages.flatMap((p) => p.key_ids)
    assert.equal(ids.length, 7)
    assert.equal(new Set(ids).size, 7)
    assert.ok(ids.includes(summary.create_key.KeyId))
    assert.ok(ids.includes(summary.re_encrypt.destination_arn.split('/')[1]))
    pages.forEach((p, i) => {
      const last = i === pages.length - 1
      assert.equal(p.key_ids.length, last ? 1 : 2)
      assert.equal(p.truncated, !last)
      assert.equal(p.next_marker === null, last)
      p.key_ids.forEach((id, j) => assert.equal(p.key_arns[j], `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`))
    })
    assert.deepEqual([...summary.list_keys.paginator_key_ids].sort(), [...ids].sort())
  })

  it('sign, verify and get_public_key: the signature verifies with node:crypto from the public key alone', () => {
    const s = summary.sign_verify
    assert.equal(s.key_spec, 'ECC_NIST_P256')
    assert.deepEqual(s.signing_algorithms, ['ECDSA_SHA_256'])
    assert.equal(s.public_key_usage, 'SIGN_VERIFY')
    assert.equal(s.signature_valid, true)
    const publicKey = createPublicKey({ key: Buffer.from(s.public_key, 'hex'), format: 'der', type: 'spki' })
    assert.equal(cryptoVerify('sha256', Buffer.from(s.message, 'hex'), publicKey, Buffer.from(s.signature, 'hex')), true)
    assert.equal(s.tampered.code, 'KMSInvalidSignatureException')
  })

  it('generate_mac and verify_mac', () => {
    assert.deepEqual(summary.mac.mac_algorithms, ['HMAC_SHA_256'])
    assert.equal(summary.mac.length, 32)
    assert.equal(summary.mac.valid, true)
    assert.equal(summary.mac.wrong.code, 'KMSInvalidMacException')
  })

  it('enable, read and disable key rotation; an asymmetric key cannot rotate', () => {
    assert.equal(summary.rotation.enabled, true)
    assert.equal(summary.rotation.after_disable, false)
    assert.equal(summary.rotation.asymmetric.code, 'UnsupportedOperationException')
  })

  it('ClientError carries NotFoundException and InvalidCiphertextException', () => {
    const e = summary.errors
    assert.deepEqual(e.bad_key_id, { code: 'NotFoundException', message: "Invalid keyId 'fake-key-id'", status: 400, operation: 'DescribeKey' })
    assert.equal(e.missing_key.code, 'NotFoundException')
    assert.equal(e.missing_key.message, `Key 'arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-4000-8000-000000000000' does not exist`)
    assert.equal(e.missing_key.status, 400)
    assert.equal(e.wrong_context.code, 'InvalidCiphertextException')
    assert.equal(e.wrong_context.status, 400)
    assert.equal(e.wrong_context.operation, 'Decrypt')
  })
})
