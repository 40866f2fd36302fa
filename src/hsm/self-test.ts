import { KmsError } from '../core/errors.js'
import { aesGcmDecrypt, aesGcmEncrypt } from './aes-gcm.js'
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto'
import { hmacSha256, kdfCtrHmacSha256, kdfCtrHmacSha256Raw } from './kdf.js'
import { signEcdsaDigest, verifyEcdsaDigest } from './prehashed.js'

/** The primitives the self-tests check. Tests can replace one to prove a broken one is caught. */
export interface SelfTestPrimitives {
  aesGcmEncrypt: typeof aesGcmEncrypt
  aesGcmDecrypt: typeof aesGcmDecrypt
  hmacSha256: typeof hmacSha256
  kdfCtrHmacSha256Raw: typeof kdfCtrHmacSha256Raw
  kdfCtrHmacSha256: typeof kdfCtrHmacSha256
  signEcdsaDigest: typeof signEcdsaDigest
  verifyEcdsaDigest: typeof verifyEcdsaDigest
}

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

/** Known answers. Each `source` names where the expected value is published. */
const KAT = {
  gcm: {
    source: 'McGrew & Viega, "The Galois/Counter Mode of Operation", AES-256 test case 16 (NIST GCM spec)',
    key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
    iv: 'cafebabefacedbaddecaf888',
    plaintext:
      'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72' +
      '1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    ciphertext:
      '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa' +
      '8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
    tag: '76fc6ece0f4e1768cddf8853bb2d551b',
  },
  hmac: {
    source: 'RFC 4231 test case 2 (HMAC-SHA-256)',
    key: '4a656665', // "Jefe"
    data: '7768617420646f2079612077616e7420666f72206e6f7468696e673f', // "what do ya want for nothing?"
    mac: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  },
  kdf: {
    source: 'NIST CAVP KDFCTR_gen.rsp [PRF=HMAC_SHA256] [CTRLOCATION=BEFORE_FIXED] [RLEN=32_BITS] COUNT=30',
    key: 'c4bedbddb66493e7c7259a3bbbc25f8c7e0ca7fe284d92d431d9cd99a0d214ac',
    fixedInput:
      '1c69c54766791e315c2cc5c47ecd3ffab87d0d273dd920e70955814c220eacac' +
      'e6a5946542da3dfe24ff626b4897898cafb7db83bdff3c14fa46fd4b',
    output: '1da47638d6c9c4d04d74d4640bbd42ab814d9e8cc22f4326695239f96b0693f12d0dd1152cf44430',
  },
  kdfLabelContext: {
    source: 'aws-encryption-sdk-javascript kdf-ctr-mode-node test vector C.1 (label || 0x00 || context || [L]_32)',
    key: '7dc9bdfc2534047cfe63e9eb297b77525149ed7d4afce9c6440f350e61ef3ed0',
    label: '6177732d6b6d732d686965726172636879', // "aws-kms-hierarchy"
    context: '77dae93e689b581d3e06eb01c8d3ba02',
    output: 'bce898725589aec08f9834b3b80fdc3ff173907e5574e729fdce127cf76db7cc',
  },
} as const

/**
 * RFC 6979 §A.2.5: ECDSA P-256 with SHA-256 over "sample", with the RFC's k: the known answer of
 * the prehashed ECDSA code (MessageType DIGEST), which is Trent's own rather than OpenSSL's.
 */
export const ECDSA_P256_KAT = {
  source: 'RFC 6979 A.2.5, P-256, SHA-256, message "sample"',
  d: 'c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721',
  x: '60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6',
  y: '7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299',
  k: 'a6e3c57dd01abe90086538398355dd4c3b17aa873382b0f24d6129493d8aad60',
  r: 'efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716',
  s: 'f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8',
} as const

/** Names of the known-answer tests, in the order they run. */
export const SELF_TEST_NAMES = [
  'AES-256-GCM encrypt',
  'AES-256-GCM decrypt',
  'AES-256-GCM rejects a bad tag',
  'HMAC-SHA256',
  'SP 800-108 KDF (fixed input)',
  'SP 800-108 KDF (label and context)',
  'ECDSA P-256 prehashed sign',
  'ECDSA P-256 prehashed verify',
] as const

/**
 * Runs the known-answer self-tests on the primitives the HSM uses (or on replacements, for
 * testing). Throws `KMSInternalException` naming the first test that fails; an HSM that sees the
 * throw must refuse every command.
 */
export function runSelfTests(replacements: Partial<SelfTestPrimitives> = {}): void {
  const p: SelfTestPrimitives = {
    aesGcmEncrypt,
    aesGcmDecrypt,
    hmacSha256,
    kdfCtrHmacSha256Raw,
    kdfCtrHmacSha256,
    signEcdsaDigest,
    verifyEcdsaDigest,
    ...replacements,
  }
  const g = KAT.gcm
  check('AES-256-GCM encrypt', () => {
    const out = p.aesGcmEncrypt(hex(g.key), hex(g.iv), hex(g.plaintext), hex(g.aad))
    return same(out.ciphertext, g.ciphertext) && same(out.tag, g.tag)
  })
  check('AES-256-GCM decrypt', () => {
    const out = p.aesGcmDecrypt(hex(g.key), hex(g.iv), hex(g.ciphertext), hex(g.tag), hex(g.aad))
    return out !== undefined && same(out, g.plaintext)
  })
  check('AES-256-GCM rejects a bad tag', () => {
    const tag = hex(g.tag)
    tag[0] = (tag[0] as number) ^ 0x01
    return p.aesGcmDecrypt(hex(g.key), hex(g.iv), hex(g.ciphertext), tag, hex(g.aad)) === undefined
  })
  check('HMAC-SHA256', () => same(p.hmacSha256(hex(KAT.hmac.key), hex(KAT.hmac.data)), KAT.hmac.mac))
  check('SP 800-108 KDF (fixed input)', () => {
    const k = KAT.kdf
    return same(p.kdfCtrHmacSha256Raw(hex(k.key), hex(k.fixedInput), k.output.length / 2), k.output)
  })
  check('SP 800-108 KDF (label and context)', () => {
    const k = KAT.kdfLabelContext
    return same(p.kdfCtrHmacSha256(hex(k.key), hex(k.label), hex(k.context), k.output.length / 2), k.output)
  })
  const e = ECDSA_P256_KAT
  const jwk = { kty: 'EC', crv: 'P-256', x: b64url(e.x), y: b64url(e.y) }
  const digest = createHash('sha256').update('sample').digest()
  check('ECDSA P-256 prehashed sign', () => {
    const privateKey = createPrivateKey({ key: { ...jwk, d: b64url(e.d) }, format: 'jwk' })
    // The first draw becomes k = draw mod (n − 1) + 1, so it is k − 1; the second only blinds.
    const draws = [hex(`${'00'.repeat(16)}${(BigInt(`0x${e.k}`) - 1n).toString(16).padStart(64, '0')}`), new Uint8Array(48).fill(0x42)]
    return same(p.signEcdsaDigest(privateKey, digest, () => draws.shift()!), ecdsaDer(e.r, e.s))
  })
  check('ECDSA P-256 prehashed verify', () => {
    const publicKey = createPublicKey({ key: jwk, format: 'jwk' })
    const good = hex(ecdsaDer(e.r, e.s))
    const bad = good.slice()
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1
    return p.verifyEcdsaDigest(publicKey, digest, good) && !p.verifyEcdsaDigest(publicKey, digest, bad)
  })
}

/** DER `SEQUENCE { INTEGER r, INTEGER s }` of two positive hex integers, as hex. */
export function ecdsaDer(r: string, s: string): string {
  const int = (h: string): string => {
    const v = parseInt(h.slice(0, 2), 16) & 0x80 ? `00${h}` : h
    return `02${(v.length / 2).toString(16).padStart(2, '0')}${v}`
  }
  const body = int(r) + int(s)
  return `30${(body.length / 2).toString(16).padStart(2, '0')}${body}`
}

function b64url(h: string): string {
  return Buffer.from(h, 'hex').toString('base64url')
}

function check(name: (typeof SELF_TEST_NAMES)[number], test: () => boolean): void {
  let passed = false
  try {
    passed = test()
  } catch {
    passed = false
  }
  if (!passed) throw new KmsError('KMSInternalException', `HSM self-test failed: ${name}`)
}

function same(actual: Uint8Array, expectedHex: string): boolean {
  return Buffer.from(actual).toString('hex') === expectedHex
}
