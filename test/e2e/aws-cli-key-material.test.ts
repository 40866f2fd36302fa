import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CREDENTIALS, REGION, awsCli, startTestServer, tempDataDir, type TestServer } from './harness.js'

/**
 * The AWS CLI of the machine (v2.9, older than RotateKeyOnDemand and ListKeyRotations) against a
 * spawned `trent serve`: automatic rotation settings, and a whole BYOK import done the way AWS's
 * instructions do it with the CLI and openssl.
 */
describe('AWS CLI: key rotation settings and BYOK import against trent serve', { timeout: 120_000 }, () => {
  const data = tempDataDir()
  const home = mkdtempSync(join(tmpdir(), 'trent-aws-cli-km-'))
  let server: TestServer
  const aws = (args: string[]) => awsCli(server.url, home, args)
  async function awsJson(args: string[]): Promise<any> {
    const r = await aws(args)
    assert.equal(r.code, 0, `aws kms ${args.join(' ')} exited ${r.code}:\n${r.stderr}`)
    return r.stdout.trim() === '' ? {} : JSON.parse(r.stdout)
  }

  before(async () => {
    writeFileSync(join(home, 'config'), '')
    writeFileSync(join(home, 'credentials'), '')
    server = await startTestServer(data.dir)
  })
  after(async () => {
    await server?.stop()
    data.cleanup()
    rmSync(home, { recursive: true, force: true })
  })

  it('enable-key-rotation, get-key-rotation-status, disable-key-rotation', async () => {
    const keyId = (await awsJson(['create-key'])).KeyMetadata.KeyId
    assert.deepEqual((await awsJson(['get-key-rotation-status', '--key-id', keyId])).KeyRotationEnabled, false)
    await awsJson(['enable-key-rotation', '--key-id', keyId])
    const status = await awsJson(['get-key-rotation-status', '--key-id', keyId])
    // This CLI's model predates RotationPeriodInDays and drops it from the output.
    assert.equal(status.KeyRotationEnabled, true)
    await awsJson(['disable-key-rotation', '--key-id', keyId])
    assert.equal((await awsJson(['get-key-rotation-status', '--key-id', keyId])).KeyRotationEnabled, false)
  })

  it('create-key --origin EXTERNAL, get-parameters-for-import, openssl, import-key-material, delete-imported-key-material', async () => {
    const created = await awsJson(['create-key', '--origin', 'EXTERNAL'])
    const keyId = created.KeyMetadata.KeyId
    assert.equal(created.KeyMetadata.KeyState, 'PendingImport')
    const params = await awsJson(['get-parameters-for-import', '--key-id', keyId, '--wrapping-algorithm', 'RSA_AES_KEY_WRAP_SHA_256', '--wrapping-key-spec', 'RSA_3072'])
    const file = (name: string) => join(home, name)
    writeFileSync(file('WrappingPublicKey.bin'), Buffer.from(params.PublicKey, 'base64'))
    writeFileSync(file('ImportToken.bin'), Buffer.from(params.ImportToken, 'base64'))
    writeFileSync(file('PlaintextKeyMaterial.bin'), randomBytes(32))
    writeFileSync(file('aes-key.bin'), randomBytes(32))
    const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: home })
    openssl(['enc', '-id-aes256-wrap-pad', '-K', execFileSync('xxd', ['-p', '-c', '64', file('aes-key.bin')]).toString().trim(), '-iv', 'A65959A6', '-in', 'PlaintextKeyMaterial.bin', '-out', 'key-material-wrapped.bin'])
    openssl(['pkeyutl', '-encrypt', '-in', 'aes-key.bin', '-out', 'aes-key-wrapped.bin', '-inkey', 'WrappingPublicKey.bin', '-keyform', 'DER', '-pubin',
      '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', 'rsa_mgf1_md:sha256'])
    execFileSync('sh', ['-c', 'cat aes-key-wrapped.bin key-material-wrapped.bin > EncryptedKeyMaterial.bin'], { cwd: home })
    // This CLI's model predates the ImportKeyMaterial response members; it prints nothing.
    await awsJson(['import-key-material', '--key-id', keyId, '--encrypted-key-material', `fileb://${file('EncryptedKeyMaterial.bin')}`, '--import-token', `fileb://${file('ImportToken.bin')}`, '--expiration-model', 'KEY_MATERIAL_DOES_NOT_EXPIRE'])
    const described = (await awsJson(['describe-key', '--key-id', keyId])).KeyMetadata
    assert.equal(described.KeyState, 'Enabled')
    assert.equal(described.ExpirationModel, 'KEY_MATERIAL_DOES_NOT_EXPIRE')
    const encrypted = await awsJson(['encrypt', '--key-id', keyId, '--plaintext', Buffer.from('via cli').toString('base64')])
    writeFileSync(file('ciphertext.bin'), Buffer.from(encrypted.CiphertextBlob, 'base64'))
    assert.equal(Buffer.from((await awsJson(['decrypt', '--ciphertext-blob', `fileb://${file('ciphertext.bin')}`])).Plaintext, 'base64').toString(), 'via cli')
    await awsJson(['delete-imported-key-material', '--key-id', keyId])
    assert.equal((await awsJson(['describe-key', '--key-id', keyId])).KeyMetadata.KeyState, 'PendingImport')
    const refused = await aws(['decrypt', '--ciphertext-blob', `fileb://${file('ciphertext.bin')}`])
    assert.equal(refused.code, 254)
    assert.match(refused.stderr, /KMSInvalidStateException/)
  })

  it('the README\'s asymmetric BYOK script: an openssl RSA key imported with RSA_AES_KEY_WRAP_SHA_256 signs; openssl verifies', async () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
    const script = /An asymmetric key is imported[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)![1]!
    const env = {
      PATH: '/usr/bin:/bin', HOME: home, LC_ALL: 'C.UTF-8', AWS_CONFIG_FILE: join(home, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey, AWS_DEFAULT_REGION: REGION, AWS_PAGER: '', E: `--endpoint-url=${server.url}`,
    }
    const dir = mkdtempSync(join(home, 'readme-'))
    execFileSync('bash', ['-euc', `${script}\necho "$KEY" > key-id.txt`], { cwd: dir, env, stdio: 'pipe' })
    const keyId = readFileSync(join(dir, 'key-id.txt'), 'utf8').trim()
    assert.equal((await awsJson(['describe-key', '--key-id', keyId])).KeyMetadata.KeyState, 'Enabled')
    writeFileSync(join(dir, 'message.txt'), 'signed by the imported key')
    const signed = await awsJson(['sign', '--key-id', keyId, '--message', `fileb://${join(dir, 'message.txt')}`, '--message-type', 'RAW', '--signing-algorithm', 'RSASSA_PKCS1_V1_5_SHA_256'])
    writeFileSync(join(dir, 'signature.bin'), Buffer.from(signed.Signature, 'base64'))
    execFileSync('openssl', ['pkey', '-in', 'private.pem', '-pubout', '-out', 'public.pem'], { cwd: dir })
    const verified = execFileSync('openssl', ['dgst', '-sha256', '-verify', 'public.pem', '-signature', 'signature.bin', 'message.txt'], { cwd: dir }).toString()
    assert.match(verified, /Verified OK/)
  })
})
