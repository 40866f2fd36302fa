import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac, createPublicKey, verify } from 'node:crypto'
import { isKmsError } from '../core/errors.js'
import type { EncryptionContext } from '../core/types.js'
import type { Hsm, KeyBinding, KeyMaterialRef } from './hsm.js'
import type { SoftwareHsmOptions } from './software-hsm.js'
import { SoftwareHsm } from './software-hsm.js'
import { parseBlobHeader } from './blob.js'

const SEAL_KEY = new Uint8Array(32).fill(0x5e)
const KEY_A = '1234abcd-12ab-34cd-56ef-1234567890ab'
const KEY_B = 'abcdef01-2345-6789-abcd-ef0123456789'
const KEY_MRK = 'mrk-1234abcd12ab34cd56ef1234567890ab'

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const invalidCiphertext = (e: unknown): boolean => isKmsError(e, 'InvalidCiphertextException') && e.message === ''
const internal = (e: unknown): boolean => isKmsError(e, 'KMSInternalException')
const validation = (e: unknown): boolean => isKmsError(e, 'ValidationException')

function binding(keyId: string, region = 'us-east-1', account = '111122223333'): KeyBinding {
  return { keyArn: `arn:aws:kms:${region}:${account}:key/${keyId}`, keyId, keySpec: 'SYMMETRIC_DEFAULT', origin: 'AWS_KMS' }
}

async function newKey(hsm: Hsm, keyId: string, region?: string): Promise<KeyMaterialRef> {
  const b = binding(keyId, region)
  return { ...b, ...(await hsm.generateKeyMaterial(b)) }
}

async function readyHsm(options: Partial<SoftwareHsmOptions> = {}): Promise<SoftwareHsm> {
  const hsm = await SoftwareHsm.create({ sealKey: SEAL_KEY, ...options })
  await hsm.initDomain()
  return hsm
}

describe('SoftwareHsm lifecycle and domain', () => {
  it('starts without a domain and refuses key commands until it has one', async () => {
    const hsm = await SoftwareHsm.create({ sealKey: SEAL_KEY })
    assert.equal(hsm.status, 'no-domain')
    await assert.rejects(hsm.generateKeyMaterial(binding(KEY_A)), internal)
    await hsm.initDomain()
    assert.equal(hsm.status, 'ready')
    await hsm.close()
  })

  it('keeps its own copy of the seal key and zeroises a loaded one', async () => {
    const given = SEAL_KEY.slice()
    const a = await SoftwareHsm.create({ sealKey: given })
    await a.close()
    assert.equal(toHex(given), toHex(SEAL_KEY))
    const loaded = SEAL_KEY.slice()
    const b = await SoftwareHsm.create({ sealKey: async () => loaded })
    assert.ok(loaded.every((x) => x === 0))
    const sealed = await b.initDomain()
    const c = await SoftwareHsm.create({ sealKey: Promise.resolve(SEAL_KEY.slice()) })
    await c.loadDomain(sealed)
    assert.equal(c.status, 'ready')
  })

  it('a sealed domain loads into another HSM with the same seal key, and its blobs decrypt there', async () => {
    const first = await SoftwareHsm.create({ sealKey: SEAL_KEY })
    const sealed = await first.initDomain()
    const key = await newKey(first, KEY_A)
    const blob = await first.encrypt(key, bytes('hello'), { a: 'b' })
    const second = await SoftwareHsm.create({ sealKey: SEAL_KEY })
    await second.loadDomain(sealed)
    assert.equal(toHex(await second.decrypt(key, blob, { a: 'b' })), toHex(bytes('hello')))
  })

  it('loadDomain refuses a wrong seal key or a tampered sealed domain', async () => {
    const sealed = await (await SoftwareHsm.create({ sealKey: SEAL_KEY })).initDomain()
    const wrong = await SoftwareHsm.create({ sealKey: new Uint8Array(32).fill(1) })
    await assert.rejects(wrong.loadDomain(sealed), internal)
    assert.equal(wrong.status, 'no-domain')
    const hsm = await SoftwareHsm.create({ sealKey: SEAL_KEY })
    const tampered = sealed.slice()
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1
    await assert.rejects(hsm.loadDomain(tampered), internal)
    await assert.rejects(hsm.loadDomain(sealed.subarray(0, 20)), internal)
  })

  it('blobs from another domain do not decrypt', async () => {
    const one = await readyHsm()
    const two = await readyHsm()
    const key = await newKey(one, KEY_A)
    const blob = await one.encrypt(key, bytes('x'), {})
    await assert.rejects(two.decrypt(key, blob, {}), invalidCiphertext)
    await assert.rejects(two.encrypt(key, bytes('x'), {}), internal)
  })

  it('refuses every command after close', async () => {
    const hsm = await readyHsm()
    const key = await newKey(hsm, KEY_A)
    await hsm.close()
    assert.equal(hsm.status, 'closed')
    await assert.rejects(hsm.encrypt(key, bytes('x'), {}), internal)
    await assert.rejects(hsm.generateRandom(8), internal)
    await assert.rejects(hsm.loadDomain(new Uint8Array(100)), internal)
    await hsm.close()
  })

  it('Precondition: The HSM\'s seal key is 32 bytes.', async () => {
    await assert.rejects(SoftwareHsm.create({ sealKey: new Uint8Array(16) }), internal)
    await assert.rejects(SoftwareHsm.create({ sealKey: async () => new Uint8Array(33) }), internal)
  })

  it('Precondition: A new domain is created only by an HSM that holds none.', async () => {
    const hsm = await readyHsm()
    await assert.rejects(hsm.initDomain(), internal)
  })
})

describe('SoftwareHsm self-tests', () => {
  it('a failed self-test makes the HSM mute: every command throws KMSInternalException', async () => {
    const hsm = await SoftwareHsm.create({
      sealKey: SEAL_KEY,
      selfTestPrimitives: { hmacSha256: () => new Uint8Array(32) },
    })
    assert.equal(hsm.status, 'mute')
    const donor = await readyHsm()
    const key = await newKey(donor, KEY_A)
    const blob = await donor.encrypt(key, bytes('x'), {})
    const sealed = await (await SoftwareHsm.create({ sealKey: SEAL_KEY })).initDomain()
    const wrapped = await donor.wrapSecret('AKIDEXAMPLE', bytes('secret'))
    const calls: Array<() => Promise<unknown>> = [
      () => hsm.initDomain(),
      () => hsm.loadDomain(sealed),
      () => hsm.generateKeyMaterial(binding(KEY_A)),
      () => hsm.encrypt(key, bytes('x'), {}),
      () => hsm.decrypt(key, blob, {}),
      () => hsm.generateDataKey(key, 32, {}, true),
      () => hsm.reEncrypt(key, blob, {}, key, {}),
      () => hsm.generateRandom(16),
      () => hsm.wrapSecret('AKIDEXAMPLE', bytes('secret')),
      () => hsm.deriveSigningKey('AKIDEXAMPLE', wrapped, '20240101', 'us-east-1', 'kms'),
    ]
    for (const call of calls) await assert.rejects(call(), internal)
    assert.equal(hsm.status, 'mute')
  })

  it('a broken cipher or KDF also mutes it', async () => {
    const broken = await SoftwareHsm.create({ sealKey: SEAL_KEY, selfTestPrimitives: { aesGcmDecrypt: () => undefined } })
    assert.equal(broken.status, 'mute')
    const kdf = await SoftwareHsm.create({ sealKey: SEAL_KEY, selfTestPrimitives: { kdfCtrHmacSha256Raw: (_k, _f, n) => new Uint8Array(n) } })
    assert.equal(kdf.status, 'mute')
  })
})

describe('SoftwareHsm encrypt, decrypt, data keys', () => {
  it('round-trips plaintexts of 0 to 4096 bytes under UUID and mrk- keys', async () => {
    const hsm = await readyHsm()
    for (const keyId of [KEY_A, KEY_MRK]) {
      const key = await newKey(hsm, keyId)
      for (const n of [0, 1, 31, 32, 33, 4096]) {
        const plaintext = new Uint8Array(n).map((_, i) => i & 0xff)
        const blob = await hsm.encrypt(key, plaintext, { n: String(n) })
        assert.equal(blob.length, 114 + n)
        assert.deepEqual(parseBlobHeader(blob), { keyId, hbkId: key.hbkId })
        assert.equal(toHex(await hsm.decrypt(key, blob, { n: String(n) })), toHex(plaintext))
      }
    }
  })

  it('makes a different blob every time', async () => {
    const hsm = await readyHsm()
    const key = await newKey(hsm, KEY_A)
    const a = await hsm.encrypt(key, bytes('same'), {})
    const b = await hsm.encrypt(key, bytes('same'), {})
    assert.notEqual(toHex(a), toHex(b))
  })

  it('accepts the context in any pair order, and Unicode', async () => {
    const hsm = await readyHsm()
    const key = await newKey(hsm, KEY_A)
    const blob = await hsm.encrypt(key, bytes('p'), { b: '2', a: '1', 'ключ': '值\u{1F511}' })
    assert.equal(toHex(await hsm.decrypt(key, blob, { 'ключ': '值\u{1F511}', a: '1', b: '2' })), toHex(bytes('p')))
  })

  it('generateDataKey returns a key that decrypts from its blob, plaintext only when asked', async () => {
    const hsm = await readyHsm()
    const key = await newKey(hsm, KEY_A)
    const withPt = await hsm.generateDataKey(key, 32, { purpose: 'dek' }, true)
    assert.ok(withPt.plaintext)
    assert.equal(withPt.plaintext.length, 32)
    assert.equal(toHex(await hsm.decrypt(key, withPt.ciphertextBlob, { purpose: 'dek' })), toHex(withPt.plaintext))
    const without = await hsm.generateDataKey(key, 64, {}, false)
    assert.equal(without.plaintext, undefined)
    assert.equal('plaintext' in without, false)
    assert.equal((await hsm.decrypt(key, without.ciphertextBlob, {})).length, 64)
  })

  it('reEncrypt moves a ciphertext to another key and context without changing the plaintext', async () => {
    const hsm = await readyHsm()
    const a = await newKey(hsm, KEY_A)
    const b = await newKey(hsm, KEY_B)
    const blob = await hsm.encrypt(a, bytes('move me'), { from: 'a' })
    const moved = await hsm.reEncrypt(a, blob, { from: 'a' }, b, { to: 'b' })
    assert.equal(parseBlobHeader(moved)?.keyId, KEY_B)
    assert.equal(toHex(await hsm.decrypt(b, moved, { to: 'b' })), toHex(bytes('move me')))
    await assert.rejects(hsm.reEncrypt(a, blob, { from: 'x' }, b, {}), invalidCiphertext)
    await assert.rejects(hsm.reEncrypt(b, blob, { from: 'a' }, b, {}), invalidCiphertext)
  })

  it('a key with several HBKs decrypts each blob with its own HBK only', async () => {
    const hsm = await readyHsm()
    const v1 = await newKey(hsm, KEY_A)
    const v2 = await newKey(hsm, KEY_A)
    assert.notEqual(toHex(v1.hbkId), toHex(v2.hbkId))
    const blob1 = await hsm.encrypt(v1, bytes('old'), {})
    assert.equal(toHex(await hsm.decrypt(v1, blob1, {})), toHex(bytes('old')))
    await assert.rejects(hsm.decrypt(v2, blob1, {}), invalidCiphertext)
    await assert.rejects(hsm.decrypt({ ...v2, hbkId: v1.hbkId }, blob1, {}), invalidCiphertext)
  })

  it('works with the HBK cache disabled, tiny, or expiring, under concurrent load', async () => {
    let now = 0
    const clock = { now: () => now }
    for (const options of [{ cacheSize: 0 }, { cacheSize: 1 }, { cacheSize: 2, cacheTtlMs: 5, clock }]) {
      const hsm = await readyHsm(options)
      const keys = [await newKey(hsm, KEY_A), await newKey(hsm, KEY_B), await newKey(hsm, KEY_MRK)]
      const work = Array.from({ length: 60 }, async (_, i) => {
        const key = keys[i % 3] as KeyMaterialRef
        const blob = await hsm.encrypt(key, bytes(`m${i}`), { i: String(i) })
        now += 3
        return toHex(await hsm.decrypt(key, blob, { i: String(i) })) === toHex(bytes(`m${i}`))
      })
      assert.ok((await Promise.all(work)).every(Boolean), JSON.stringify({ ...options, clock: undefined }))
      await hsm.close()
    }
  })

  it('Precondition: A plaintext to encrypt is at most 4096 bytes.', async () => {
    const hsm = await readyHsm()
    const key = await newKey(hsm, KEY_A)
    await assert.rejects(hsm.encrypt(key, new Uint8Array(4097), {}), validation)
  })

  it('Precondition: A data key is between 1 and 1024 bytes.', async () => {
    const hsm = await readyHsm()
    const key = await newKey(hsm, KEY_A)
    for (const n of [0, -1, 1025, 2.5]) await assert.rejects(hsm.generateDataKey(key, n, {}, true), validation)
    assert.equal((await hsm.generateDataKey(key, 1024, {}, true)).plaintext?.length, 1024)
  })

  it('generates key material only for key specs it knows (no SM2, no ML-DSA)', async () => {
    const hsm = await readyHsm()
    await assert.rejects(
      hsm.generateKeyMaterial({ ...binding(KEY_A), keySpec: 'SM2' }),
      (e: unknown) => isKmsError(e, 'UnsupportedOperationException'),
    )
  })

  it('Precondition: A key\'s id is a well-formed key id and the last part of its ARN.', async () => {
    const hsm = await readyHsm()
    await assert.rejects(hsm.generateKeyMaterial({ ...binding(KEY_A), keyId: KEY_B }), internal)
    await assert.rejects(hsm.generateKeyMaterial({ ...binding(KEY_A), keyId: 'not-a-key-id' }), internal)
    const key = await newKey(hsm, KEY_A)
    await assert.rejects(hsm.encrypt({ ...key, keyId: KEY_B }, bytes('x'), {}), internal)
  })

  it('rejects contexts the canonical encoding cannot carry with ValidationException', async () => {
    const hsm = await readyHsm()
    const key = await newKey(hsm, KEY_A)
    await assert.rejects(hsm.encrypt(key, bytes('x'), { k: 'a'.repeat(65536) }), validation)
    await assert.rejects(hsm.encrypt(key, bytes('x'), { '\uD800': 'x' }), validation)
  })

  it('an EKT that does not unwrap on encrypt or generateDataKey is KMSInternalException', async () => {
    const hsm = await readyHsm()
    const key = await newKey(hsm, KEY_A)
    const broken = key.ekt.slice()
    broken[40] = (broken[40] as number) ^ 1
    await assert.rejects(hsm.encrypt({ ...key, ekt: broken }, bytes('x'), {}), internal)
    await assert.rejects(hsm.generateDataKey({ ...key, ekt: broken }, 32, {}, true), internal)
    await assert.rejects(hsm.encrypt({ ...key, ekt: new Uint8Array(3) }, bytes('x'), {}), internal)
  })
})

describe('SoftwareHsm: an EKT cannot be moved to another key', () => {
  it('refuses key A\'s EKT under key B\'s ARN, another region\'s ARN, another spec or origin — even when cached', async () => {
    const hsm = await readyHsm()
    const a = await newKey(hsm, KEY_A)
    const blob = await hsm.encrypt(a, bytes('x'), {})
    await hsm.decrypt(a, blob, {}) // the HBK is now cached under A's binding
    const moved: KeyMaterialRef[] = [
      { ...a, ...binding(KEY_B) },
      { ...a, ...binding(KEY_A, 'eu-west-1') },
      { ...a, ...binding(KEY_A, 'us-east-1', '444455556666') },
      { ...a, keySpec: 'HMAC_256' },
      { ...a, origin: 'EXTERNAL' },
    ]
    for (const ref of moved) {
      await assert.rejects(hsm.encrypt(ref, bytes('x'), {}), internal, ref.keyArn)
      await assert.rejects(hsm.generateDataKey(ref, 16, {}, false), internal, ref.keyArn)
    }
    for (const ref of moved.slice(1)) await assert.rejects(hsm.decrypt(ref, blob, {}), invalidCiphertext, ref.keyArn)
  })
})

describe('SoftwareHsm: every wrong ciphertext is the same InvalidCiphertextException', () => {
  for (const cacheSize of [1000, 0]) {
    describe(`with cacheSize ${cacheSize}`, () => {
      const setup = async () => {
        const hsm = await readyHsm({ cacheSize })
        const a = await newKey(hsm, KEY_A)
        const b = await newKey(hsm, KEY_B)
        const context: EncryptionContext = { tenant: 'acme', purpose: 'test' }
        const blob = await hsm.encrypt(a, bytes('attack at dawn'), context)
        assert.equal(toHex(await hsm.decrypt(a, blob, context)), toHex(bytes('attack at dawn')))
        return { hsm, a, b, context, blob }
      }

      it('a change to any single byte of the blob', async () => {
        const { hsm, a, context, blob } = await setup()
        for (let i = 0; i < blob.length; i++) {
          for (const mask of [0x01, 0x80]) {
            const bad = blob.slice()
            bad[i] = (bad[i] as number) ^ mask
            await assert.rejects(hsm.decrypt(a, bad, context), invalidCiphertext, `byte ${i} ^ ${mask}`)
          }
        }
      })

      it('the blob cut at every length, or with a byte appended', async () => {
        const { hsm, a, context, blob } = await setup()
        for (let n = 0; n < blob.length; n++) {
          await assert.rejects(hsm.decrypt(a, blob.subarray(0, n), context), invalidCiphertext, `length ${n}`)
        }
        for (const extra of [0x00, 0xff]) {
          await assert.rejects(hsm.decrypt(a, new Uint8Array([...blob, extra]), context), invalidCiphertext)
        }
        await assert.rejects(hsm.decrypt(a, new Uint8Array(6145), context), invalidCiphertext)
      })

      it('a wrong, extra, missing or re-cased context pair, or no context', async () => {
        const { hsm, a, blob } = await setup()
        const wrong: EncryptionContext[] = [
          {},
          { tenant: 'acme' },
          { tenant: 'acme', purpose: 'test', extra: '' },
          { tenant: 'acme', purpose: 'Test' },
          { Tenant: 'acme', purpose: 'test' },
          { tenant: 'acme', purpose: 'test ' },
          { tenantpurpose: 'acmetest' },
        ]
        for (const c of wrong) await assert.rejects(hsm.decrypt(a, blob, c), invalidCiphertext, JSON.stringify(c))
        const noContext = await hsm.encrypt(a, bytes('x'), {})
        await assert.rejects(hsm.decrypt(a, noContext, { '': '' }), invalidCiphertext)
      })

      it('the wrong key, another key\'s EKT, or a header that names another key or HBK', async () => {
        const { hsm, a, b, context, blob } = await setup()
        await assert.rejects(hsm.decrypt(b, blob, context), invalidCiphertext, 'key B')
        await assert.rejects(hsm.decrypt({ ...a, ekt: b.ekt }, blob, context), invalidCiphertext, 'B\'s EKT')
        await assert.rejects(hsm.decrypt({ ...a, ekt: b.ekt, hbkId: b.hbkId }, blob, context), invalidCiphertext, 'B\'s material')
        await assert.rejects(hsm.decrypt({ ...a, hbkId: b.hbkId }, blob, context), invalidCiphertext, 'B\'s HBK id')
        await assert.rejects(hsm.decrypt({ ...a, ekt: new Uint8Array(77) }, blob, context), invalidCiphertext, 'zero EKT')
        await assert.rejects(hsm.decrypt({ ...a, ekt: new Uint8Array(0) }, blob, context), invalidCiphertext, 'empty EKT')
        // Rewrite the header to name key B: the header is authenticated, so this fails for B too.
        const renamed = blob.slice()
        renamed.set(bytes(KEY_B), 2)
        renamed.set(b.hbkId, 38)
        await assert.rejects(hsm.decrypt(b, renamed, context), invalidCiphertext, 'renamed to B')
        await assert.rejects(hsm.decrypt(a, renamed, context), invalidCiphertext, 'renamed, under A')
      })

      it('a ciphertext from another key\'s blob spliced under this header', async () => {
        const { hsm, a, b, context, blob } = await setup()
        const other = await hsm.encrypt(b, bytes('attack at dusk'), context)
        const spliced = new Uint8Array([...blob.subarray(0, 98), ...other.subarray(98)])
        await assert.rejects(hsm.decrypt(a, spliced, context), invalidCiphertext)
      })
    })
  }
})

describe('SoftwareHsm random and credentials', () => {
  it('generateRandom returns fresh, unpooled bytes of the asked length', async () => {
    const hsm = await readyHsm()
    const r = await hsm.generateRandom(16)
    assert.equal(r.length, 16)
    assert.equal(Object.getPrototypeOf(r), Uint8Array.prototype)
    assert.equal(r.buffer.byteLength, 16)
    assert.notEqual(toHex(r), toHex(await hsm.generateRandom(16)))
  })

  it('Precondition: A random request is between 1 and 1024 bytes.', async () => {
    const hsm = await readyHsm()
    for (const n of [0, 1025, -3, 1.5]) await assert.rejects(hsm.generateRandom(n), validation)
    assert.equal((await hsm.generateRandom(1024)).length, 1024)
  })

  it('copies what an injected random source returns and refuses a short answer', async () => {
    const shared = new Uint8Array(64).fill(7)
    const hsm = await readyHsm({ random: (n) => shared.subarray(0, n) })
    const key = await newKey(hsm, KEY_A)
    await hsm.generateDataKey(key, 32, {}, false)
    assert.ok(shared.every((x) => x === 7), 'the source\'s buffer is not zeroised by the HSM')
    const short = await SoftwareHsm.create({ sealKey: SEAL_KEY, random: () => new Uint8Array(1) })
    await assert.rejects(short.initDomain(), internal)
  })

  it('deriveSigningKey computes the SigV4 chain from a wrapped secret (AWS documentation example)', async () => {
    const hsm = await readyHsm()
    const secret = bytes('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY')
    const wrapped = await hsm.wrapSecret('AKIDEXAMPLE', secret)
    assert.ok(!Buffer.from(wrapped).includes(Buffer.from(secret)))
    const kSigning = await hsm.deriveSigningKey('AKIDEXAMPLE', wrapped, '20150830', 'us-east-1', 'iam')
    assert.equal(toHex(kSigning), 'c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9')
    const h = (k: Uint8Array | string, d: string) => createHmac('sha256', k).update(d).digest()
    const expected = h(h(h(h('AWS4' + 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', '20240229'), 'eu-west-1'), 'kms'), 'aws4_request')
    assert.equal(toHex(await hsm.deriveSigningKey('AKIDEXAMPLE', wrapped, '20240229', 'eu-west-1', 'kms')), expected.toString('hex'))
  })

  it('a wrapped secret works only for its access key id and survives a domain reload', async () => {
    const first = await SoftwareHsm.create({ sealKey: SEAL_KEY })
    const sealed = await first.initDomain()
    const wrapped = await first.wrapSecret('AKIDEXAMPLE', bytes('s3cret'))
    await assert.rejects(first.deriveSigningKey('AKIDOTHER', wrapped, '20240101', 'us-east-1', 'kms'), internal)
    const tampered = wrapped.slice()
    tampered[30] = (tampered[30] as number) ^ 1
    await assert.rejects(first.deriveSigningKey('AKIDEXAMPLE', tampered, '20240101', 'us-east-1', 'kms'), internal)
    const second = await SoftwareHsm.create({ sealKey: SEAL_KEY })
    await second.loadDomain(sealed)
    assert.equal((await second.deriveSigningKey('AKIDEXAMPLE', wrapped, '20240101', 'us-east-1', 'kms')).length, 32)
  })

  it('Precondition: A secret to wrap is between 1 and 128 bytes.', async () => {
    const hsm = await readyHsm()
    await assert.rejects(hsm.wrapSecret('AKIDEXAMPLE', new Uint8Array(0)), validation)
    await assert.rejects(hsm.wrapSecret('AKIDEXAMPLE', new Uint8Array(129)), validation)
  })

  it('Precondition: An access key id is 1 to 128 printable ASCII characters.', async () => {
    const hsm = await readyHsm()
    for (const id of ['', 'has space', 'x'.repeat(129), 'ünïcode']) {
      await assert.rejects(hsm.wrapSecret(id, bytes('s')), validation, id)
      await assert.rejects(hsm.deriveSigningKey(id, new Uint8Array(60), '20240101', 'us-east-1', 'kms'), validation, id)
    }
  })

  it('Precondition: A SigV4 scope date is eight digits and its region and service are 1 to 64 printable ASCII characters.', async () => {
    const hsm = await readyHsm()
    const wrapped = await hsm.wrapSecret('AKIDEXAMPLE', bytes('s'))
    const bad: Array<[string, string, string]> = [
      ['2024-01-01', 'us-east-1', 'kms'],
      ['2024010', 'us-east-1', 'kms'],
      ['20240101', '', 'kms'],
      ['20240101', 'us-east-1', ''],
      ['20240101', 'us east', 'kms'],
      ['20240101', 'r'.repeat(65), 'kms'],
    ]
    for (const [date, region, service] of bad) {
      await assert.rejects(hsm.deriveSigningKey('AKIDEXAMPLE', wrapped, date, region, service), validation, `${date}/${region}/${service}`)
    }
  })
})

describe('SoftwareHsm audit signing key', () => {
  it('makes an Ed25519 key that leaves only wrapped, and signs digests that its public key verifies', async () => {
    const hsm = await readyHsm()
    const { wrappedKey, publicKey } = await hsm.createAuditSigningKey()
    const message = bytes('digest bytes')
    const signed = await hsm.signAuditDigest(wrappedKey, message)
    assert.deepEqual(signed.publicKey, publicKey)
    const key = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' })
    assert.equal(key.asymmetricKeyType, 'ed25519')
    assert.equal(verify(null, message, key, signed.signature), true)
    assert.equal(verify(null, bytes('other bytes'), key, signed.signature), false)
  })

  it('Precondition: An audit digest is signed only with an audit signing key this domain wrapped.', async () => {
    const hsm = await readyHsm()
    const other = await readyHsm()
    const { wrappedKey } = await other.createAuditSigningKey()
    await assert.rejects(hsm.signAuditDigest(wrappedKey, bytes('x')), internal)
    const tampered = Uint8Array.from(wrappedKey)
    tampered[tampered.length - 1]! ^= 1
    await assert.rejects(other.signAuditDigest(tampered, bytes('x')), internal)
    // A wrapped credential is not an audit key, even in the same domain.
    await assert.rejects(hsm.signAuditDigest(await hsm.wrapSecret('AKIDEXAMPLE', bytes('s'.repeat(48))), bytes('x')), internal)
  })
})
