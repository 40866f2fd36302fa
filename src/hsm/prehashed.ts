import { constants, createECDH, createHash, privateEncrypt, publicDecrypt, publicEncrypt, type KeyObject } from 'node:crypto'
import { constantTimeEqual, zeroize } from '../core/secret.js'

/**
 * Signatures over a digest the caller computed (MessageType DIGEST). node:crypto only signs messages
 * it hashes itself, so the padding is done here and only the private-key operation is OpenSSL's:
 * RSA as a raw private-key operation on the EMSA-PKCS1-v1_5 or EMSA-PSS encoding (RFC 8017 §9),
 * ECDSA with k·G computed by OpenSSL's ECDH (constant time) and the scalar arithmetic of FIPS 186-5
 * §6.4.1 in BigInt, blinded. Verification uses public values only.
 */

// DER DigestInfo prefixes of RFC 8017 §9.2 note 1.
const DIGEST_INFO: Readonly<Record<string, string>> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
}

/** RSASSA-PKCS1-v1_5 signature of a digest. */
export function signPkcs1Digest(key: KeyObject, hash: string, digest: Uint8Array): Uint8Array {
  return new Uint8Array(privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, digestInfo(hash, digest)))
}

/** Verifies an RSASSA-PKCS1-v1_5 signature of a digest. */
export function verifyPkcs1Digest(key: KeyObject, hash: string, digest: Uint8Array, signature: Uint8Array): boolean {
  let recovered: Buffer
  try {
    recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature)
  } catch {
    return false
  }
  return constantTimeEqual(recovered, digestInfo(hash, digest))
}

function digestInfo(hash: string, digest: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(DIGEST_INFO[hash]!, 'hex'), digest])
}

/** RSASSA-PSS signature of a digest, MGF1 with the same hash, salt as long as the hash. */
export function signPssDigest(key: KeyObject, hash: string, digest: Uint8Array, salt: Uint8Array): Uint8Array {
  const modBits = key.asymmetricKeyDetails?.modulusLength ?? 0
  const emBits = modBits - 1
  const emLen = Math.ceil(emBits / 8)
  const hLen = digest.length
  const h = pssHash(hash, digest, salt)
  const db = Buffer.alloc(emLen - hLen - 1)
  db[emLen - 2 * hLen - 2] = 0x01
  db.set(salt, emLen - 2 * hLen - 1)
  const mask = mgf1(hash, h, db.length)
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!
  db[0]! &= 0xff >> (8 * emLen - emBits)
  const em = Buffer.concat([Buffer.alloc(Math.ceil(modBits / 8) - emLen), db, h, Buffer.from([0xbc])])
  try {
    return new Uint8Array(privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, em))
  } finally {
    zeroize(em, db)
  }
}

/** Verifies an RSASSA-PSS signature of a digest (salt length = hash length). */
export function verifyPssDigest(key: KeyObject, hash: string, digest: Uint8Array, signature: Uint8Array): boolean {
  const modBits = key.asymmetricKeyDetails?.modulusLength ?? 0
  const k = Math.ceil(modBits / 8)
  if (signature.length !== k) return false
  let decoded: Buffer
  try {
    decoded = publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, signature)
  } catch {
    return false
  }
  const emBits = modBits - 1
  const emLen = Math.ceil(emBits / 8)
  const hLen = digest.length
  const em = decoded.subarray(k - emLen)
  if (decoded.subarray(0, k - emLen).some((b) => b !== 0)) return false
  if (emLen < 2 * hLen + 2 || em[emLen - 1] !== 0xbc) return false
  const maskedDb = em.subarray(0, emLen - hLen - 1)
  const h = em.subarray(emLen - hLen - 1, emLen - 1)
  if ((maskedDb[0]! & ~(0xff >> (8 * emLen - emBits)) & 0xff) !== 0) return false
  const mask = mgf1(hash, h, maskedDb.length)
  const db = Buffer.from(maskedDb.map((b, i) => b ^ mask[i]!))
  db[0]! &= 0xff >> (8 * emLen - emBits)
  const separator = emLen - 2 * hLen - 2
  if (db.subarray(0, separator).some((b) => b !== 0) || db[separator] !== 0x01) return false
  return constantTimeEqual(pssHash(hash, digest, db.subarray(separator + 1)), h)
}

function pssHash(hash: string, digest: Uint8Array, salt: Uint8Array): Buffer {
  return createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest()
}

function mgf1(hash: string, seed: Uint8Array, length: number): Buffer {
  const out = Buffer.alloc(length)
  const counter = Buffer.alloc(4)
  for (let i = 0, offset = 0; offset < length; i++) {
    counter.writeUInt32BE(i)
    const block = createHash(hash).update(seed).update(counter).digest()
    out.set(block.subarray(0, Math.min(block.length, length - offset)), offset)
    offset += block.length
  }
  return out
}

/** Short Weierstrass curve parameters (SEC 2 / FIPS 186-5), with OpenSSL's name for ECDH. */
interface Curve {
  openssl: string
  p: bigint
  a: bigint
  n: bigint
  gx: bigint
  gy: bigint
  bytes: number
}

const CURVES: Readonly<Record<string, Curve>> = {
  prime256v1: {
    openssl: 'prime256v1',
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    bytes: 32,
  },
  secp384r1: {
    openssl: 'secp384r1',
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    a: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffcn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    bytes: 48,
  },
  secp521r1: {
    openssl: 'secp521r1',
    p: (1n << 521n) - 1n,
    a: (1n << 521n) - 4n,
    n: 0x1fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    gx: 0xc6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66n,
    gy: 0x11839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650n,
    bytes: 66,
  },
  secp256k1: {
    openssl: 'secp256k1',
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn,
    a: 0n,
    n: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
    gx: 0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n,
    gy: 0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n,
    bytes: 32,
  },
}

/** ECDSA signature (DER) of a digest; `random` supplies the per-signature secret. */
export function signEcdsaDigest(key: KeyObject, digest: Uint8Array, random: (n: number) => Uint8Array): Uint8Array {
  const curve = curveOf(key)
  const d = toBigInt(Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url'))
  const z = bits2int(digest, curve.n)
  for (;;) {
    const seed = random(curve.bytes + 16)
    const k = (toBigInt(seed) % (curve.n - 1n)) + 1n
    zeroize(seed)
    const ecdh = createECDH(curve.openssl)
    ecdh.setPrivateKey(toBytes(k, curve.bytes))
    const point = ecdh.getPublicKey()
    const r = toBigInt(point.subarray(1, 1 + curve.bytes)) % curve.n
    if (r === 0n) continue
    // BigInt arithmetic is not constant time: blind k and d with a random b, so the timed values
    // are b·k and b·d, fresh per signature: s = (b·k)⁻¹ · (b·z + r·(b·d)) = k⁻¹ · (z + r·d).
    const blindSeed = random(curve.bytes + 16)
    const b = (toBigInt(blindSeed) % (curve.n - 1n)) + 1n
    zeroize(blindSeed)
    const bd = (b * d) % curve.n
    const s = (modInverse((b * k) % curve.n, curve.n) * ((b * z + r * bd) % curve.n)) % curve.n
    if (s === 0n) continue
    return derSignature(r, s)
  }
}

/** Verifies a DER ECDSA signature of a digest. */
export function verifyEcdsaDigest(key: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const curve = curveOf(key)
  const parsed = parseDerSignature(signature)
  if (parsed === undefined) return false
  const { r, s } = parsed
  if (r < 1n || r >= curve.n || s < 1n || s >= curve.n) return false
  const jwk = key.export({ format: 'jwk' })
  const q: Jacobian = [toBigInt(Buffer.from(jwk.x!, 'base64url')), toBigInt(Buffer.from(jwk.y!, 'base64url')), 1n]
  const w = modInverse(s, curve.n)
  const u1 = (bits2int(digest, curve.n) * w) % curve.n
  const u2 = (r * w) % curve.n
  const point = shamir(curve, u1, [curve.gx, curve.gy, 1n], u2, q)
  if (point[2] === 0n) return false
  const zInv = modInverse(point[2], curve.p)
  const x = (point[0] * zInv * zInv) % curve.p
  return x % curve.n === r
}

function curveOf(key: KeyObject): Curve {
  const curve = CURVES[key.asymmetricKeyDetails?.namedCurve ?? '']
  if (curve === undefined) throw new Error('not an ECDSA curve Trent knows')
  return curve
}

function bits2int(digest: Uint8Array, n: bigint): bigint {
  const excess = digest.length * 8 - n.toString(2).length
  const z = toBigInt(digest)
  return excess > 0 ? z >> BigInt(excess) : z
}

type Jacobian = [bigint, bigint, bigint]

function mod(a: bigint, m: bigint): bigint {
  const r = a % m
  return r < 0n ? r + m : r
}

function modInverse(a: bigint, m: bigint): bigint {
  // m is prime: a^(m-2) mod m.
  let result = 1n
  let base = mod(a, m)
  let e = m - 2n
  while (e > 0n) {
    if (e & 1n) result = (result * base) % m
    base = (base * base) % m
    e >>= 1n
  }
  return result
}

function double(c: Curve, [x, y, z]: Jacobian): Jacobian {
  if (y === 0n || z === 0n) return [1n, 1n, 0n]
  const yy = (y * y) % c.p
  const s = (4n * x * yy) % c.p
  const zz = (z * z) % c.p
  const m = mod(3n * x * x + c.a * zz * zz, c.p)
  const x3 = mod(m * m - 2n * s, c.p)
  return [x3, mod(m * (s - x3) - 8n * yy * yy, c.p), (2n * y * z) % c.p]
}

function add(c: Curve, p1: Jacobian, p2: Jacobian): Jacobian {
  if (p1[2] === 0n) return p2
  if (p2[2] === 0n) return p1
  const z1z1 = (p1[2] * p1[2]) % c.p
  const z2z2 = (p2[2] * p2[2]) % c.p
  const u1 = (p1[0] * z2z2) % c.p
  const u2 = (p2[0] * z1z1) % c.p
  const s1 = (p1[1] * z2z2 * p2[2]) % c.p
  const s2 = (p2[1] * z1z1 * p1[2]) % c.p
  if (u1 === u2) return s1 === s2 ? double(c, p1) : [1n, 1n, 0n]
  const h = mod(u2 - u1, c.p)
  const r = mod(s2 - s1, c.p)
  const hh = (h * h) % c.p
  const hhh = (hh * h) % c.p
  const x3 = mod(r * r - hhh - 2n * u1 * hh, c.p)
  return [x3, mod(r * (u1 * hh - x3) - s1 * hhh, c.p), (h * p1[2] * p2[2]) % c.p]
}

/** a·P + b·Q, by Shamir's trick. Public inputs only: not constant time. */
function shamir(c: Curve, a: bigint, p: Jacobian, b: bigint, q: Jacobian): Jacobian {
  const pq = add(c, p, q)
  let acc: Jacobian = [1n, 1n, 0n]
  for (let i = Math.max(a.toString(2).length, b.toString(2).length) - 1; i >= 0; i--) {
    acc = double(c, acc)
    const bit = BigInt(i)
    const ai = (a >> bit) & 1n
    const bi = (b >> bit) & 1n
    if (ai && bi) acc = add(c, acc, pq)
    else if (ai) acc = add(c, acc, p)
    else if (bi) acc = add(c, acc, q)
  }
  return acc
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`)
}

function toBytes(n: bigint, length: number): Buffer {
  return Buffer.from(n.toString(16).padStart(length * 2, '0'), 'hex')
}

function derInteger(n: bigint): Buffer {
  let hex = n.toString(16)
  if (hex.length % 2) hex = `0${hex}`
  let bytes = Buffer.from(hex, 'hex')
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes])
  return Buffer.concat([Buffer.from([0x02]), derLength(bytes.length), bytes])
}

function derLength(n: number): Buffer {
  return n < 0x80 ? Buffer.from([n]) : Buffer.from([0x81, n])
}

function derSignature(r: bigint, s: bigint): Uint8Array {
  const body = Buffer.concat([derInteger(r), derInteger(s)])
  return new Uint8Array(Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]))
}

/** Parses `SEQUENCE { INTEGER r, INTEGER s }` strictly (DER); undefined when malformed. */
function parseDerSignature(sig: Uint8Array): { r: bigint; s: bigint } | undefined {
  let offset = 0
  const readLength = (): number | undefined => {
    const first = sig[offset++]
    if (first === undefined) return undefined
    if (first < 0x80) return first
    if (first !== 0x81) return undefined
    const n = sig[offset++]
    return n === undefined || n < 0x80 ? undefined : n
  }
  const readInteger = (): bigint | undefined => {
    if (sig[offset++] !== 0x02) return undefined
    const length = readLength()
    if (length === undefined || length === 0 || offset + length > sig.length) return undefined
    const bytes = sig.subarray(offset, offset + length)
    // Negative, or a needless leading zero, is not DER.
    if (bytes[0]! & 0x80 || (bytes.length > 1 && bytes[0] === 0 && !(bytes[1]! & 0x80))) return undefined
    offset += length
    return toBigInt(bytes)
  }
  if (sig[offset++] !== 0x30) return undefined
  const length = readLength()
  if (length === undefined || offset + length !== sig.length) return undefined
  const r = readInteger()
  const s = readInteger()
  if (r === undefined || s === undefined || offset !== sig.length) return undefined
  return { r, s }
}
