import { randomFillSync } from 'node:crypto'
import { mkdir, open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { KmsError } from '../core/errors.js'
import { zeroize } from '../core/secret.js'
import { AES_256_KEY_BYTES, GCM_IV_BYTES, GCM_TAG_BYTES, aesGcmDecrypt, aesGcmEncrypt } from './aes-gcm.js'
import { DOMAIN_KEY_ID_BYTES, lengthPrefixed } from './ekt.js'
import { kdfCtrHmacSha256 } from './kdf.js'

/** First byte of a serialised domain state and of a sealed domain, format version 1. */
export const DOMAIN_V1 = 0x01
/** Length of a domain id. */
export const DOMAIN_ID_BYTES = 16
/** Length of the development seal key. */
export const SEAL_KEY_BYTES = 32
/** Name of the development seal key file inside the data directory. */
export const SEAL_KEY_FILE = 'seal.key'

const DOMAIN_KEY_RECORD_BYTES = DOMAIN_KEY_ID_BYTES + 1 + AES_256_KEY_BYTES
const ACTIVE_FLAG = 0x01
const SEALED_HEADER_BYTES = 1 + DOMAIN_ID_BYTES
const utf8 = new TextEncoder()
const SEAL_KDF_LABEL = utf8.encode('trent-domain-seal-v1')
const SEAL_AAD_LABEL = utf8.encode('trent-sealed-domain-v1')

/** One domain key as held in the domain state. */
export interface DomainKey {
  /** 16 random bytes; EKTs name the domain key that wrapped them by this id. */
  id: Uint8Array
  /** AES-256 key, 32 bytes. */
  key: Uint8Array
  /** True for the one key that wraps new EKTs and credentials; others only unwrap. */
  active: boolean
}

/** The secret state of an HSM domain. Only ever stored sealed. */
export interface DomainState {
  /** 16 random bytes naming the domain. */
  domainId: Uint8Array
  keys: DomainKey[]
}

/** Overwrites every domain key in `state`. */
export function zeroizeDomainState(state: DomainState): void {
  for (const k of state.keys) zeroize(k.key)
}

/**
 * Checks the invariants of a domain state and throws KMSInternalException when one is broken.
 */
export function checkDomainState(state: DomainState): void {
  /* Precondition: A domain id is 16 bytes. */
  if (state.domainId.length !== DOMAIN_ID_BYTES) {
    throw new KmsError('KMSInternalException', 'Domain id must be 16 bytes')
  }
  /* Precondition: A domain has between 1 and 65535 domain keys. */
  if (state.keys.length < 1 || state.keys.length > 0xffff) {
    throw new KmsError('KMSInternalException', 'A domain must have between 1 and 65535 domain keys')
  }
  const seen = new Set<string>()
  let active = 0
  for (const k of state.keys) {
    /* Precondition: A domain key has a 16-byte id and a 32-byte key. */
    if (k.id.length !== DOMAIN_KEY_ID_BYTES || k.key.length !== AES_256_KEY_BYTES) {
      throw new KmsError('KMSInternalException', 'Domain key must have a 16-byte id and a 32-byte key')
    }
    const id = Buffer.from(k.id).toString('hex')
    /* Precondition: Domain key ids are unique within a domain. */
    if (seen.has(id)) throw new KmsError('KMSInternalException', 'Duplicate domain key id')
    seen.add(id)
    if (k.active) active++
  }
  /* Precondition: A domain has exactly one active domain key. */
  if (active !== 1) {
    throw new KmsError('KMSInternalException', 'A domain must have exactly one active domain key')
  }
}

/**
 * Binary form of a domain state: `0x01 || domainId (16) || uint16 count || (id (16) || flags (1) ||
 * key (32))*`. The result holds secrets; zeroise it after use.
 */
export function serializeDomainState(state: DomainState): Uint8Array {
  checkDomainState(state)
  const out = new Uint8Array(1 + DOMAIN_ID_BYTES + 2 + state.keys.length * DOMAIN_KEY_RECORD_BYTES)
  out[0] = DOMAIN_V1
  out.set(state.domainId, 1)
  new DataView(out.buffer).setUint16(1 + DOMAIN_ID_BYTES, state.keys.length)
  let offset = 1 + DOMAIN_ID_BYTES + 2
  for (const k of state.keys) {
    out.set(k.id, offset)
    out[offset + DOMAIN_KEY_ID_BYTES] = k.active ? ACTIVE_FLAG : 0
    out.set(k.key, offset + DOMAIN_KEY_ID_BYTES + 1)
    offset += DOMAIN_KEY_RECORD_BYTES
  }
  return out
}

/** Inverse of {@link serializeDomainState}, copying every field; undefined for malformed input. */
export function parseDomainState(bytes: Uint8Array): DomainState | undefined {
  if (bytes.length < 1 + DOMAIN_ID_BYTES + 2 || bytes[0] !== DOMAIN_V1) return undefined
  const count = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(1 + DOMAIN_ID_BYTES)
  if (bytes.length !== 1 + DOMAIN_ID_BYTES + 2 + count * DOMAIN_KEY_RECORD_BYTES) return undefined
  const keys: DomainKey[] = []
  let offset = 1 + DOMAIN_ID_BYTES + 2
  for (let i = 0; i < count; i++, offset += DOMAIN_KEY_RECORD_BYTES) {
    const flags = bytes[offset + DOMAIN_KEY_ID_BYTES] as number
    if ((flags & ~ACTIVE_FLAG) !== 0) {
      zeroizeDomainState({ domainId: new Uint8Array(0), keys })
      return undefined
    }
    keys.push({
      id: copy(bytes.subarray(offset, offset + DOMAIN_KEY_ID_BYTES)),
      active: flags === ACTIVE_FLAG,
      key: copy(bytes.subarray(offset + DOMAIN_KEY_ID_BYTES + 1, offset + DOMAIN_KEY_RECORD_BYTES)),
    })
  }
  return { domainId: copy(bytes.subarray(1, 1 + DOMAIN_ID_BYTES)), keys }
}

/**
 * Seals a domain state under the seal key: `0x01 || domainId (16) || iv (12) || ciphertext || tag
 * (16)`. The AES-256-GCM key is derived from the seal key and the domain id (SP 800-108, label
 * `trent-domain-seal-v1`), and the cleartext header is authenticated.
 */
export function sealDomainState(state: DomainState, sealKey: Uint8Array, iv: Uint8Array): Uint8Array {
  checkSealKey(sealKey)
  const plaintext = serializeDomainState(state)
  const header = new Uint8Array(SEALED_HEADER_BYTES)
  header[0] = DOMAIN_V1
  header.set(state.domainId, 1)
  const key = kdfCtrHmacSha256(sealKey, SEAL_KDF_LABEL, state.domainId, AES_256_KEY_BYTES)
  try {
    const { ciphertext, tag } = aesGcmEncrypt(key, iv, plaintext, sealAad(header))
    const out = new Uint8Array(SEALED_HEADER_BYTES + GCM_IV_BYTES + ciphertext.length + GCM_TAG_BYTES)
    out.set(header, 0)
    out.set(iv, SEALED_HEADER_BYTES)
    out.set(ciphertext, SEALED_HEADER_BYTES + GCM_IV_BYTES)
    out.set(tag, SEALED_HEADER_BYTES + GCM_IV_BYTES + ciphertext.length)
    return out
  } finally {
    zeroize(key, plaintext)
  }
}

/**
 * Unseals a domain sealed by {@link sealDomainState}. A wrong seal key, a tampered or truncated
 * sealed domain, or a state that breaks the domain invariants all throw the same
 * KMSInternalException.
 */
export function unsealDomainState(sealed: Uint8Array, sealKey: Uint8Array): DomainState {
  checkSealKey(sealKey)
  const fail = (): never => {
    throw new KmsError('KMSInternalException', 'The sealed domain state could not be unsealed')
  }
  if (sealed.length < SEALED_HEADER_BYTES + GCM_IV_BYTES + GCM_TAG_BYTES || sealed[0] !== DOMAIN_V1) {
    return fail()
  }
  const header = sealed.subarray(0, SEALED_HEADER_BYTES)
  const domainId = sealed.subarray(1, SEALED_HEADER_BYTES)
  const key = kdfCtrHmacSha256(sealKey, SEAL_KDF_LABEL, domainId, AES_256_KEY_BYTES)
  let plaintext: Uint8Array | undefined
  try {
    plaintext = aesGcmDecrypt(
      key,
      sealed.subarray(SEALED_HEADER_BYTES, SEALED_HEADER_BYTES + GCM_IV_BYTES),
      sealed.subarray(SEALED_HEADER_BYTES + GCM_IV_BYTES, sealed.length - GCM_TAG_BYTES),
      sealed.subarray(sealed.length - GCM_TAG_BYTES),
      sealAad(header),
    )
    if (plaintext === undefined) return fail()
    const state = parseDomainState(plaintext)
    if (state === undefined) return fail()
    try {
      checkDomainState(state)
      if (!Buffer.from(state.domainId).equals(domainId)) fail()
    } catch {
      zeroizeDomainState(state)
      return fail()
    }
    return state
  } finally {
    zeroize(key, plaintext)
  }
}

/** Path of the development seal key file in a data directory. */
export function sealKeyPath(dataDir: string): string {
  return join(dataDir, SEAL_KEY_FILE)
}

/**
 * Reads a 32-byte seal key file. Refuses a file that is not a regular file, is not exactly 32
 * bytes, or grants any permission to group or others (KMSInternalException).
 */
export async function readSealKeyFile(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r')
  try {
    const info = await handle.stat()
    /* Precondition: A seal key file is a regular file of exactly 32 bytes. */
    if (!info.isFile() || info.size !== SEAL_KEY_BYTES) {
      throw new KmsError('KMSInternalException', `Seal key file ${path} must be a regular file of 32 bytes`)
    }
    /* Precondition: A seal key file grants no access to group or others. */
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      throw new KmsError(
        'KMSInternalException',
        `Seal key file ${path} is accessible by group or others; run chmod 600 on it`,
      )
    }
    const key = new Uint8Array(SEAL_KEY_BYTES)
    const { bytesRead } = await handle.read(key, 0, SEAL_KEY_BYTES, 0)
    if (bytesRead !== SEAL_KEY_BYTES) {
      zeroize(key)
      throw new KmsError('KMSInternalException', `Seal key file ${path} could not be read in full`)
    }
    return key
  } finally {
    await handle.close()
  }
}

/**
 * Creates a new seal key file with mode 0600, failing if the file already exists (`wx`), and
 * returns the key. The file is synced before returning: losing it loses every key in the domain.
 */
export async function createSealKeyFile(
  path: string,
  random: (n: number) => Uint8Array = (n) => randomFillSync(new Uint8Array(n)),
): Promise<Uint8Array> {
  const key = random(SEAL_KEY_BYTES)
  checkSealKey(key)
  const handle = await open(path, 'wx', 0o600)
  try {
    await handle.writeFile(key)
    await handle.sync()
  } catch (e) {
    zeroize(key)
    await handle.close()
    // A partial file would be refused at every later start; better that it not exist.
    await unlink(path).catch(() => undefined)
    throw e
  }
  await handle.close()
  return key
}

/**
 * The development seal key of a data directory: read from `<dataDir>/seal.key`, or created there
 * (with the directory, mode 0700) when it does not exist yet.
 */
export async function loadOrCreateSealKey(dataDir: string): Promise<Uint8Array> {
  const path = sealKeyPath(dataDir)
  try {
    return await readSealKeyFile(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  try {
    return await createSealKeyFile(path)
  } catch (e) {
    // Another process created it between our read and our exclusive create.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readSealKeyFile(path)
    throw e
  }
}

function checkSealKey(sealKey: Uint8Array): void {
  /* Precondition: A seal key is 32 bytes. */
  if (sealKey.length !== SEAL_KEY_BYTES) {
    throw new KmsError('KMSInternalException', 'Seal key must be 32 bytes')
  }
}

function sealAad(header: Uint8Array): Uint8Array {
  return lengthPrefixed([SEAL_AAD_LABEL, header])
}

function copy(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length)
  out.set(bytes)
  return out
}
