import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, verify as nodeVerify } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  DeriveSharedSecretCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateMacCommand,
  GetPublicKeyCommand,
  KMSClient,
  ReEncryptCommand,
  SignCommand,
  VerifyCommand,
  VerifyMacCommand,
  type CreateKeyCommandInput,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms'
import { ACCOUNT, awsCli, kmsClient, rejectsWithKmsError as rejects, startTestServer, tempDataDir, type TestServer } from './harness.js'

const ROOT = `arn:aws:iam::${ACCOUNT}:root`
const OPENSSL = '/usr/bin/openssl'

describe('asymmetric, HMAC and key-agreement keys, through the AWS SDK and openssl', () => {
  const data = tempDataDir()
  const work = mkdtempSync(join(tmpdir(), 'trent-openssl-'))
  let server: TestServer
  let kms: KMSClient
  const keys: Record<string, string> = {}

  const create = async (input: CreateKeyCommandInput) => (await kms.send(new CreateKeyCommand(input))).KeyMetadata!
  const file = (name: string, content: Uint8Array | string): string => {
    const path = join(work, name)
    writeFileSync(path, content)
    return path
  }
  const openssl = (...args: string[]): Buffer => execFileSync(OPENSSL, args)
  const publicPem = async (keyId: string, name: string): Promise<string> => {
    const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }))
    const der = file(`${name}.der`, PublicKey!)
    openssl('pkey', '-pubin', '-inform', 'DER', '-in', der, '-out', join(work, `${name}.pem`))
    return join(work, `${name}.pem`)
  }

  before(async () => {
    server = await startTestServer(data.dir)
    kms = kmsClient(server.url)
    for (const [name, KeySpec, KeyUsage] of [
      ['rsaSign', 'RSA_2048', 'SIGN_VERIFY'],
      ['rsaEncrypt', 'RSA_2048', 'ENCRYPT_DECRYPT'],
      ['p256', 'ECC_NIST_P256', 'SIGN_VERIFY'],
      ['p384', 'ECC_NIST_P384', 'SIGN_VERIFY'],
      ['k1', 'ECC_SECG_P256K1', 'SIGN_VERIFY'],
      ['ed', 'ECC_NIST_EDWARDS25519', 'SIGN_VERIFY'],
      ['ecdh', 'ECC_NIST_P256', 'KEY_AGREEMENT'],
      ['hmac', 'HMAC_256', 'GENERATE_VERIFY_MAC'],
    ] as const) {
      keys[name] = (await create({ KeySpec, KeyUsage })).Arn!
    }
    keys['aes'] = (await create({})).Arn!
  })
  after(async () => {
    kms?.destroy()
    await server?.stop()
    data.cleanup()
    rmSync(work, { recursive: true, force: true })
  })

  it('CreateKey and DescribeKey show exactly the algorithm lists AWS shows, and no CurrentKeyMaterialId', async () => {
    const expected: Record<string, Record<string, string[]>> = {
      rsaSign: { SigningAlgorithms: ['RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512', 'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512'] },
      rsaEncrypt: { EncryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] },
      p256: { SigningAlgorithms: ['ECDSA_SHA_256'] },
      p384: { SigningAlgorithms: ['ECDSA_SHA_384'] },
      k1: { SigningAlgorithms: ['ECDSA_SHA_256'] },
      ed: { SigningAlgorithms: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'] },
      ecdh: { KeyAgreementAlgorithms: ['ECDH'] },
      hmac: { MacAlgorithms: ['HMAC_SHA_256'] },
    }
    const lists = ['EncryptionAlgorithms', 'SigningAlgorithms', 'KeyAgreementAlgorithms', 'MacAlgorithms'] as const
    for (const [name, want] of Object.entries(expected)) {
      const m = (await kms.send(new DescribeKeyCommand({ KeyId: keys[name] }))).KeyMetadata!
      for (const list of lists) assert.deepEqual(m[list], want[list], `${name} ${list}`)
      assert.equal(m.CurrentKeyMaterialId, undefined, name)
      assert.equal(m.KeySpec, m.CustomerMasterKeySpec)
      assert.equal(m.KeyState, 'Enabled')
    }
    const created = await create({ KeySpec: 'HMAC_512', KeyUsage: 'GENERATE_VERIFY_MAC' })
    assert.deepEqual(created.MacAlgorithms, ['HMAC_SHA_512'])
    assert.equal(created.EncryptionAlgorithms, undefined)
  })

  it('CreateKey refuses what AWS refuses, with AWS\'s errors', async () => {
    await rejects(kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256' })), 'ValidationException', 'You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.')
    await rejects(kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'KEY_AGREEMENT' })), 'ValidationException', 'KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048')
    await rejects(kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'ENCRYPT_DECRYPT' })), 'ValidationException', 'KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec ECC_NIST_P256')
    await rejects(kms.send(new CreateKeyCommand({ KeySpec: 'ECC_SECG_P256K1', KeyUsage: 'KEY_AGREEMENT' })), 'ValidationException', 'KeyUsage KEY_AGREEMENT is not compatible with KeySpec ECC_SECG_P256K1')
    await rejects(kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'SIGN_VERIFY' })), 'ValidationException', 'KeyUsage SIGN_VERIFY is not compatible with KeySpec HMAC_256')
    await rejects(kms.send(new CreateKeyCommand({ KeySpec: 'SM2', KeyUsage: 'SIGN_VERIFY' })), 'UnsupportedOperationException', /SM2/)
    await rejects(kms.send(new CreateKeyCommand({ KeySpec: 'ML_DSA_65', KeyUsage: 'SIGN_VERIFY' })), 'UnsupportedOperationException', /ML-DSA/)
  })

  it('GetPublicKey returns DER SPKI with the key\'s metadata; symmetric and HMAC keys have none', async () => {
    const r = await kms.send(new GetPublicKeyCommand({ KeyId: keys['rsaEncrypt'] }))
    assert.equal(r.KeyId, keys['rsaEncrypt'])
    assert.equal(r.KeySpec, 'RSA_2048')
    assert.equal(r.CustomerMasterKeySpec, 'RSA_2048')
    assert.equal(r.KeyUsage, 'ENCRYPT_DECRYPT')
    assert.deepEqual(r.EncryptionAlgorithms, ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'])
    assert.equal(r.SigningAlgorithms, undefined)
    const pub = createPublicKey({ key: Buffer.from(r.PublicKey!), format: 'der', type: 'spki' })
    assert.equal(pub.asymmetricKeyDetails?.modulusLength, 2048)
    const ecdh = await kms.send(new GetPublicKeyCommand({ KeyId: keys['ecdh'] }))
    assert.deepEqual(ecdh.KeyAgreementAlgorithms, ['ECDH'])
    await rejects(kms.send(new GetPublicKeyCommand({ KeyId: keys['aes'] })), 'UnsupportedOperationException')
    await rejects(kms.send(new GetPublicKeyCommand({ KeyId: keys['hmac'] })), 'UnsupportedOperationException')
  })

  it('signatures verify with the openssl command line and node:crypto from GetPublicKey alone, and in Trent', async () => {
    const message = Buffer.from('release v1.2.3 of something worth signing')
    const msgFile = file('message.txt', message)
    const cases: Array<[string, SigningAlgorithmSpec, string[]]> = [
      ['p256', 'ECDSA_SHA_256', ['-sha256']],
      ['p384', 'ECDSA_SHA_384', ['-sha384']],
      ['k1', 'ECDSA_SHA_256', ['-sha256']],
      ['rsaSign', 'RSASSA_PKCS1_V1_5_SHA_256', ['-sha256']],
      ['rsaSign', 'RSASSA_PKCS1_V1_5_SHA_512', ['-sha512']],
      ['rsaSign', 'RSASSA_PSS_SHA_256', ['-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32']],
      ['rsaSign', 'RSASSA_PSS_SHA_384', ['-sha384', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:48']],
    ]
    for (const [name, SigningAlgorithm, dgst] of cases) {
      const pem = await publicPem(keys[name]!, name)
      for (const MessageType of ['RAW', 'DIGEST'] as const) {
        const hash = SigningAlgorithm.slice(-3)
        const input = MessageType === 'RAW' ? message : createHash(`sha${hash}`).update(message).digest()
        const signed = await kms.send(new SignCommand({ KeyId: keys[name], Message: input, MessageType, SigningAlgorithm }))
        assert.equal(signed.KeyId, keys[name])
        assert.equal(signed.SigningAlgorithm, SigningAlgorithm)
        const sig = file('sig.bin', signed.Signature!)
        const out = openssl('dgst', ...dgst, '-verify', pem, '-signature', sig, msgFile).toString()
        assert.match(out, /Verified OK/, `${name} ${SigningAlgorithm} ${MessageType}`)
        const verified = await kms.send(new VerifyCommand({ KeyId: keys[name], Message: input, MessageType, SigningAlgorithm, Signature: signed.Signature }))
        assert.equal(verified.SignatureValid, true)
        assert.equal(verified.KeyId, keys[name])
        const bad = Buffer.from(signed.Signature!)
        bad[bad.length - 1]! ^= 1
        await rejects(kms.send(new VerifyCommand({ KeyId: keys[name], Message: input, MessageType, SigningAlgorithm, Signature: bad })), 'KMSInvalidSignatureException')
      }
    }
    // Ed25519 (pure, RAW): openssl pkeyutl -rawin and node:crypto.
    const signed = await kms.send(new SignCommand({ KeyId: keys['ed'], Message: message, SigningAlgorithm: 'ED25519_SHA_512' }))
    const pem = await publicPem(keys['ed']!, 'ed')
    const out = openssl('pkeyutl', '-verify', '-pubin', '-inkey', pem, '-rawin', '-in', msgFile, '-sigfile', file('ed.sig', signed.Signature!)).toString()
    assert.match(out, /Signature Verified Successfully/)
    const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: keys['ed'] }))
    assert.ok(nodeVerify(null, message, createPublicKey({ key: Buffer.from(PublicKey!), format: 'der', type: 'spki' }), signed.Signature!))
  })

  it('Sign and Verify refuse wrong usage, algorithm and digest length as AWS does', async () => {
    const digest31 = new Uint8Array(31)
    await rejects(kms.send(new SignCommand({ KeyId: keys['p256'], Message: digest31, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })), 'ValidationException', 'Digest is invalid length for algorithm ECDSA_SHA_256.')
    await rejects(kms.send(new SignCommand({ KeyId: keys['p256'], Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' })), 'InvalidKeyUsageException', 'Algorithm RSASSA_PSS_SHA_256 is incompatible with key spec ECC_NIST_P256.')
    await rejects(kms.send(new SignCommand({ KeyId: keys['rsaEncrypt'], Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' })), 'InvalidKeyUsageException', `${keys['rsaEncrypt']} key usage is ENCRYPT_DECRYPT which is not valid for Sign.`)
    await rejects(kms.send(new VerifyCommand({ KeyId: keys['aes'], Message: Buffer.from('m'), Signature: Buffer.from('s'), SigningAlgorithm: 'ECDSA_SHA_256' })), 'InvalidKeyUsageException', `${keys['aes']} key usage is ENCRYPT_DECRYPT which is not valid for Verify.`)
    await rejects(kms.send(new EncryptCommand({ KeyId: keys['p256'], Plaintext: Buffer.from('x') })), 'InvalidKeyUsageException', `${keys['p256']} key usage is SIGN_VERIFY which is not valid for Encrypt.`)
    await rejects(kms.send(new SignCommand({ KeyId: keys['p256'], Message: new Uint8Array(4097), SigningAlgorithm: 'ECDSA_SHA_256' })), 'ValidationException', /4096/)
    await rejects(kms.send(new SignCommand({ KeyId: keys['ed'], Message: new Uint8Array(64), MessageType: 'DIGEST', SigningAlgorithm: 'ED25519_PH_SHA_512' })), 'UnsupportedOperationException', /ED25519_PH_SHA_512/)
    await rejects(kms.send(new SignCommand({ KeyId: keys['p256'], Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256', DryRun: true })), 'DryRunOperationException')
  })

  it('a disabled signing key answers DisabledException, as symmetric keys do', async () => {
    const arn = (await create({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })).Arn!
    await kms.send(new DisableKeyCommand({ KeyId: arn }))
    await rejects(kms.send(new SignCommand({ KeyId: arn, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' })), 'DisabledException', `${arn} is disabled.`)
    await rejects(kms.send(new GetPublicKeyCommand({ KeyId: arn })), 'DisabledException')
    await kms.send(new EnableKeyCommand({ KeyId: arn }))
    await kms.send(new SignCommand({ KeyId: arn, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }))
  })

  it('the AWS CLI signs, verifies and MACs; openssl verifies what it signed (the README example)', { timeout: 120_000 }, async () => {
    writeFileSync(join(work, 'config'), '')
    writeFileSync(join(work, 'credentials'), '')
    const aws = async (args: string[]): Promise<any> => {
      const r = await awsCli(server.url, work, args)
      assert.equal(r.code, 0, `aws kms ${args.join(' ')}: ${r.stderr}`)
      return JSON.parse(r.stdout)
    }
    const release = file('release.tar.gz', Buffer.from('pretend tarball '.repeat(100)))
    const keyId = (await aws(['create-key', '--key-spec', 'ECC_NIST_P256', '--key-usage', 'SIGN_VERIFY'])).KeyMetadata.KeyId
    const pub = await aws(['get-public-key', '--key-id', keyId])
    assert.deepEqual(pub.SigningAlgorithms, ['ECDSA_SHA_256'])
    const pem = join(work, 'cli-pub.pem')
    openssl('pkey', '-pubin', '-inform', 'DER', '-in', file('cli-pub.der', Buffer.from(pub.PublicKey, 'base64')), '-out', pem)
    const signed = await aws(['sign', '--key-id', keyId, '--message', `fileb://${release}`, '--message-type', 'RAW', '--signing-algorithm', 'ECDSA_SHA_256'])
    const sig = file('cli.sig', Buffer.from(signed.Signature, 'base64'))
    assert.match(openssl('dgst', '-sha256', '-verify', pem, '-signature', sig, release).toString(), /Verified OK/)
    const verified = await aws(['verify', '--key-id', keyId, '--message', `fileb://${release}`, '--signature', `fileb://${sig}`, '--signing-algorithm', 'ECDSA_SHA_256'])
    assert.equal(verified.SignatureValid, true)
    const bad = await awsCli(server.url, work, ['verify', '--key-id', keyId, '--message', 'fileb://' + msgFileFor(release), '--signature', `fileb://${sig}`, '--signing-algorithm', 'ECDSA_SHA_256'])
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /KMSInvalidSignatureException/)
    const mac = await aws(['generate-mac', '--key-id', keys['hmac']!, '--message', `fileb://${release}`, '--mac-algorithm', 'HMAC_SHA_256'])
    const ok = await aws(['verify-mac', '--key-id', keys['hmac']!, '--message', `fileb://${release}`, '--mac-algorithm', 'HMAC_SHA_256', '--mac', `fileb://${file('cli.mac', Buffer.from(mac.Mac, 'base64'))}`])
    assert.equal(ok.MacValid, true)
  })

  /** Another file with one byte changed. */
  const msgFileFor = (path: string): string => {
    const changed = Buffer.from(readFileSync(path))
    changed[0]! ^= 1
    return file('changed.bin', changed)
  }

  it('RSA: data encrypted offline with openssl pkeyutl (OAEP SHA-1 and SHA-256) decrypts in Trent; Trent\'s ciphertext is raw OAEP', async () => {
    const pem = await publicPem(keys['rsaEncrypt']!, 'rsaEncrypt')
    const plain = file('plain.txt', 'top secret for the KMS key')
    for (const [EncryptionAlgorithm, md] of [['RSAES_OAEP_SHA_1', 'sha1'], ['RSAES_OAEP_SHA_256', 'sha256']] as const) {
      openssl('pkeyutl', '-encrypt', '-pubin', '-inkey', pem, '-in', plain, '-out', join(work, 'ct.bin'),
        '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', `rsa_oaep_md:${md}`, '-pkeyopt', `rsa_mgf1_md:${md}`)
      const ct = readFileSync(join(work, 'ct.bin'))
      assert.equal(ct.length, 256)
      const r = await kms.send(new DecryptCommand({ KeyId: keys['rsaEncrypt'], CiphertextBlob: ct, EncryptionAlgorithm }))
      assert.equal(Buffer.from(r.Plaintext!).toString(), 'top secret for the KMS key')
      assert.equal(r.EncryptionAlgorithm, EncryptionAlgorithm)
      assert.equal(r.KeyId, keys['rsaEncrypt'])
      assert.equal(r.KeyMaterialId, undefined)
      const enc = await kms.send(new EncryptCommand({ KeyId: keys['rsaEncrypt'], Plaintext: Buffer.from('round trip'), EncryptionAlgorithm }))
      assert.equal(enc.EncryptionAlgorithm, EncryptionAlgorithm)
      assert.equal(enc.CiphertextBlob!.length, 256)
      const back = await kms.send(new DecryptCommand({ KeyId: keys['rsaEncrypt'], CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm }))
      assert.equal(Buffer.from(back.Plaintext!).toString(), 'round trip')
    }
    await rejects(kms.send(new EncryptCommand({ KeyId: keys['rsaEncrypt'], Plaintext: new Uint8Array(215), EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })), 'ValidationException', 'Algorithm RSAES_OAEP_SHA_1 and key spec RSA_2048 cannot encrypt data larger than 214 bytes.')
    await rejects(kms.send(new EncryptCommand({ KeyId: keys['rsaEncrypt'], Plaintext: new Uint8Array(191), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })), 'ValidationException', 'Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes.')
    await rejects(kms.send(new EncryptCommand({ KeyId: keys['rsaEncrypt'], Plaintext: Buffer.from('x') })), 'InvalidKeyUsageException', 'Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.')
    await rejects(kms.send(new EncryptCommand({ KeyId: keys['aes'], Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })), 'InvalidKeyUsageException', 'Algorithm RSAES_OAEP_SHA_1 is incompatible with key spec SYMMETRIC_DEFAULT.')
    await rejects(kms.send(new EncryptCommand({ KeyId: keys['rsaEncrypt'], Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_1', EncryptionContext: { a: 'b' } })), 'ValidationException', 'EncryptionContext is not supported when encrypting/decrypting with asymmetric CMKs.')
    await rejects(kms.send(new DecryptCommand({ KeyId: keys['rsaEncrypt'], CiphertextBlob: new Uint8Array(256).fill(7), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })), 'InvalidCiphertextException')
    // Without a KeyId an RSA ciphertext names no key.
    const enc = await kms.send(new EncryptCommand({ KeyId: keys['rsaEncrypt'], Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' }))
    await rejects(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })), 'InvalidCiphertextException')
  })

  it('ReEncrypt moves data between symmetric and RSA keys in both directions', async () => {
    const sym = await kms.send(new EncryptCommand({ KeyId: keys['aes'], Plaintext: Buffer.from('portable'), EncryptionContext: { app: 'x' } }))
    const toRsa = await kms.send(new ReEncryptCommand({
      CiphertextBlob: sym.CiphertextBlob, SourceEncryptionContext: { app: 'x' },
      DestinationKeyId: keys['rsaEncrypt'], DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    }))
    assert.equal(toRsa.SourceEncryptionAlgorithm, 'SYMMETRIC_DEFAULT')
    assert.equal(toRsa.DestinationEncryptionAlgorithm, 'RSAES_OAEP_SHA_256')
    assert.equal(toRsa.KeyId, keys['rsaEncrypt'])
    assert.equal(toRsa.SourceKeyId, keys['aes'])
    assert.match(toRsa.SourceKeyMaterialId!, /^[0-9a-f]{64}$/)
    assert.equal(toRsa.DestinationKeyMaterialId, undefined)
    const back = await kms.send(new ReEncryptCommand({
      CiphertextBlob: toRsa.CiphertextBlob, SourceKeyId: keys['rsaEncrypt'], SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      DestinationKeyId: keys['aes'], DestinationEncryptionContext: { app: 'y' },
    }))
    const plain = await kms.send(new DecryptCommand({ CiphertextBlob: back.CiphertextBlob, EncryptionContext: { app: 'y' } }))
    assert.equal(Buffer.from(plain.Plaintext!).toString(), 'portable')
    // RSA to RSA, the destination named by an alias.
    const other = (await create({ KeySpec: 'RSA_3072', KeyUsage: 'ENCRYPT_DECRYPT' })).Arn!
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/rsa-destination', TargetKeyId: other }))
    const rsaToRsa = await kms.send(new ReEncryptCommand({
      CiphertextBlob: toRsa.CiphertextBlob, SourceKeyId: keys['rsaEncrypt'], SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      DestinationKeyId: 'alias/rsa-destination', DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
    }))
    assert.equal(rsaToRsa.KeyId, other)
    assert.equal(rsaToRsa.CiphertextBlob!.length, 384)
    const viaAlias = await kms.send(new DecryptCommand({ KeyId: 'alias/rsa-destination', CiphertextBlob: rsaToRsa.CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' }))
    assert.equal(Buffer.from(viaAlias.Plaintext!).toString(), 'portable')
    await rejects(kms.send(new ReEncryptCommand({
      CiphertextBlob: toRsa.CiphertextBlob, SourceKeyId: keys['rsaEncrypt'], SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
      DestinationKeyId: keys['aes'],
    })), 'InvalidCiphertextException')
  })

  it('GenerateMac and VerifyMac: HMAC-SHA-256 as node computes it; a wrong MAC is KMSInvalidMacException', async () => {
    const r = await kms.send(new GenerateMacCommand({ KeyId: keys['hmac'], Message: Buffer.from('token'), MacAlgorithm: 'HMAC_SHA_256' }))
    assert.equal(r.Mac!.length, 32)
    assert.equal(r.MacAlgorithm, 'HMAC_SHA_256')
    assert.equal(r.KeyId, keys['hmac'])
    const again = await kms.send(new GenerateMacCommand({ KeyId: keys['hmac'], Message: Buffer.from('token'), MacAlgorithm: 'HMAC_SHA_256' }))
    assert.deepEqual(again.Mac, r.Mac)
    const ok = await kms.send(new VerifyMacCommand({ KeyId: keys['hmac'], Message: Buffer.from('token'), MacAlgorithm: 'HMAC_SHA_256', Mac: r.Mac }))
    assert.equal(ok.MacValid, true)
    await rejects(kms.send(new VerifyMacCommand({ KeyId: keys['hmac'], Message: Buffer.from('tokeN'), MacAlgorithm: 'HMAC_SHA_256', Mac: r.Mac })), 'KMSInvalidMacException')
    await rejects(kms.send(new GenerateMacCommand({ KeyId: keys['hmac'], Message: Buffer.from('t'), MacAlgorithm: 'HMAC_SHA_384' })), 'InvalidKeyUsageException', 'Algorithm HMAC_SHA_384 is incompatible with key spec HMAC_256.')
    await rejects(kms.send(new GenerateMacCommand({ KeyId: keys['aes'], Message: Buffer.from('t'), MacAlgorithm: 'HMAC_SHA_256' })), 'InvalidKeyUsageException', `${keys['aes']} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.`)
    await rejects(kms.send(new EncryptCommand({ KeyId: keys['hmac'], Plaintext: Buffer.from('x') })), 'InvalidKeyUsageException', `${keys['hmac']} key usage is GENERATE_VERIFY_MAC which is not valid for Encrypt.`)
  })

  it('DeriveSharedSecret equals the secret openssl pkeyutl -derive computes offline', async () => {
    const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    const peerKey = file('peer.pem', peer.privateKey.export({ format: 'pem', type: 'pkcs8' }))
    const r = await kms.send(new DeriveSharedSecretCommand({
      KeyId: keys['ecdh'], KeyAgreementAlgorithm: 'ECDH', PublicKey: peer.publicKey.export({ format: 'der', type: 'spki' }),
    }))
    assert.equal(r.KeyAgreementAlgorithm, 'ECDH')
    assert.equal(r.KeyOrigin, 'AWS_KMS')
    assert.equal(r.KeyId, keys['ecdh'])
    const kmsPub = await publicPem(keys['ecdh']!, 'ecdh')
    const offline = openssl('pkeyutl', '-derive', '-inkey', peerKey, '-peerkey', kmsPub)
    assert.deepEqual(Buffer.from(r.SharedSecret!), offline)
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'der', type: 'spki' })
    await rejects(kms.send(new DeriveSharedSecretCommand({ KeyId: keys['ecdh'], KeyAgreementAlgorithm: 'ECDH', PublicKey: p384 })), 'ValidationException')
    await rejects(kms.send(new DeriveSharedSecretCommand({ KeyId: keys['p256'], KeyAgreementAlgorithm: 'ECDH', PublicKey: p384 })), 'InvalidKeyUsageException', `${keys['p256']} key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret.`)
  })

  it('GenerateDataKeyPair: SPKI public key, PKCS#8 private key that openssl reads and that decrypts under the context', async () => {
    for (const KeyPairSpec of ['RSA_2048', 'ECC_NIST_P256', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519'] as const) {
      const r = await kms.send(new GenerateDataKeyPairCommand({ KeyId: keys['aes'], KeyPairSpec, EncryptionContext: { pair: KeyPairSpec } }))
      assert.equal(r.KeyPairSpec, KeyPairSpec)
      assert.equal(r.KeyId, keys['aes'])
      const pubFromPrivate = openssl('pkey', '-inform', 'DER', '-in', file('private.der', r.PrivateKeyPlaintext!), '-pubout', '-outform', 'DER')
      assert.deepEqual(pubFromPrivate, Buffer.from(r.PublicKey!), KeyPairSpec)
      const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: r.PrivateKeyCiphertextBlob, EncryptionContext: { pair: KeyPairSpec } }))
      assert.deepEqual(decrypted.Plaintext, r.PrivateKeyPlaintext)
      await rejects(kms.send(new DecryptCommand({ CiphertextBlob: r.PrivateKeyCiphertextBlob })), 'InvalidCiphertextException')
    }
    const without = await kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: keys['aes'], KeyPairSpec: 'ECC_NIST_P384' }))
    assert.equal((without as { PrivateKeyPlaintext?: unknown }).PrivateKeyPlaintext, undefined)
    const key = createPrivateKey({ key: Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: without.PrivateKeyCiphertextBlob }))).Plaintext!), format: 'der', type: 'pkcs8' })
    assert.deepEqual(createPublicKey(key).export({ format: 'der', type: 'spki' }), Buffer.from(without.PublicKey!))
    await rejects(kms.send(new GenerateDataKeyPairCommand({ KeyId: keys['rsaEncrypt'], KeyPairSpec: 'RSA_2048' })), 'InvalidKeyUsageException')
    await rejects(kms.send(new GenerateDataKeyPairCommand({ KeyId: keys['aes'], KeyPairSpec: 'SM2' })), 'UnsupportedOperationException')
    await rejects(kms.send(new GenerateDataKeyCommand({ KeyId: keys['rsaEncrypt'], KeySpec: 'AES_256' })), 'InvalidKeyUsageException')
  })

  it('authorises the new operations with their condition keys, and grants can name them', async () => {
    const deny = (Action: string, Condition: object) => ({ Effect: 'Deny', Principal: { AWS: ROOT }, Action, Resource: '*', Condition })
    const Policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' },
        deny('kms:Sign', { StringEquals: { 'kms:SigningAlgorithm': 'RSASSA_PKCS1_V1_5_SHA_256' } }),
        deny('kms:Verify', { StringEquals: { 'kms:MessageType': 'DIGEST' } }),
        deny('kms:GenerateDataKeyPair', { StringEquals: { 'kms:DataKeyPairSpec': 'RSA_4096' } }),
        deny('kms:GenerateMac', { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_256' } }),
        deny('kms:DeriveSharedSecret', { StringEquals: { 'kms:KeyAgreementAlgorithm': 'ECDH' } }),
      ],
    })
    const rsa = (await create({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', Policy })).Arn!
    const message = Buffer.from('m')
    await rejects(kms.send(new SignCommand({ KeyId: rsa, Message: message, SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' })), 'AccessDeniedException', /kms:Sign/)
    const pss = await kms.send(new SignCommand({ KeyId: rsa, Message: message, SigningAlgorithm: 'RSASSA_PSS_SHA_256' }))
    await kms.send(new VerifyCommand({ KeyId: rsa, Message: message, SigningAlgorithm: 'RSASSA_PSS_SHA_256', Signature: pss.Signature }))
    const digest = createHash('sha256').update(message).digest()
    await rejects(kms.send(new VerifyCommand({ KeyId: rsa, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'RSASSA_PSS_SHA_256', Signature: pss.Signature })), 'AccessDeniedException', /kms:Verify/)
    const aes = (await create({ Policy })).Arn!
    await rejects(kms.send(new GenerateDataKeyPairCommand({ KeyId: aes, KeyPairSpec: 'RSA_4096' })), 'AccessDeniedException', /kms:GenerateDataKeyPair/)
    await kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: aes, KeyPairSpec: 'ECC_NIST_P256' }))
    const hmac = (await create({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', Policy })).Arn!
    await rejects(kms.send(new GenerateMacCommand({ KeyId: hmac, Message: message, MacAlgorithm: 'HMAC_SHA_256' })), 'AccessDeniedException', /kms:GenerateMac/)
    const ecdh = (await create({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT', Policy })).Arn!
    const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' })
    await rejects(kms.send(new DeriveSharedSecretCommand({ KeyId: ecdh, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer })), 'AccessDeniedException', /kms:DeriveSharedSecret/)

    // A key whose policy allows only grant management: a Sign grant lets the grantee sign, and only sign.
    const grantOnly = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: ROOT }, Action: ['kms:CreateGrant', 'kms:PutKeyPolicy'], Resource: '*' }] })
    const p256 = (await create({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Policy: grantOnly, BypassPolicyLockoutSafetyCheck: true })).Arn!
    await rejects(kms.send(new SignCommand({ KeyId: p256, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' })), 'AccessDeniedException')
    await kms.send(new CreateGrantCommand({ KeyId: p256, GranteePrincipal: ROOT, Operations: ['Sign', 'GetPublicKey'] }))
    const signed = await kms.send(new SignCommand({ KeyId: p256, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }))
    const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: p256 }))
    assert.ok(nodeVerify('sha256', message, { key: createPublicKey({ key: Buffer.from(PublicKey!), format: 'der', type: 'spki' }), dsaEncoding: 'der' }, signed.Signature!))
    await rejects(kms.send(new VerifyCommand({ KeyId: p256, Message: message, SigningAlgorithm: 'ECDSA_SHA_256', Signature: signed.Signature })), 'AccessDeniedException')
    await rejects(kms.send(new CreateGrantCommand({ KeyId: p256, GranteePrincipal: ROOT, Operations: ['Encrypt'] })), 'ValidationException')
  })

  it('keys survive a restart: same public keys, old ciphertext decrypts, new signatures verify with the old key', { timeout: 60_000 }, async () => {
    const before = (await kms.send(new GetPublicKeyCommand({ KeyId: keys['p256'] }))).PublicKey!
    const rsaCiphertext = (await kms.send(new EncryptCommand({ KeyId: keys['rsaEncrypt'], Plaintext: Buffer.from('kept'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))).CiphertextBlob!
    const mac = (await kms.send(new GenerateMacCommand({ KeyId: keys['hmac'], Message: Buffer.from('kept'), MacAlgorithm: 'HMAC_SHA_256' }))).Mac!
    kms.destroy()
    await server.stop()
    server = await startTestServer(data.dir)
    kms = kmsClient(server.url)
    assert.deepEqual((await kms.send(new GetPublicKeyCommand({ KeyId: keys['p256'] }))).PublicKey, before)
    const decrypted = await kms.send(new DecryptCommand({ KeyId: keys['rsaEncrypt'], CiphertextBlob: rsaCiphertext, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))
    assert.equal(Buffer.from(decrypted.Plaintext!).toString(), 'kept')
    const signed = await kms.send(new SignCommand({ KeyId: keys['p256'], Message: Buffer.from('after'), SigningAlgorithm: 'ECDSA_SHA_256' }))
    assert.ok(nodeVerify('sha256', Buffer.from('after'), { key: createPublicKey({ key: Buffer.from(before), format: 'der', type: 'spki' }), dsaEncoding: 'der' }, signed.Signature!))
    const ok = await kms.send(new VerifyMacCommand({ KeyId: keys['hmac'], Message: Buffer.from('kept'), MacAlgorithm: 'HMAC_SHA_256', Mac: mac }))
    assert.equal(ok.MacValid, true)
  })
})
