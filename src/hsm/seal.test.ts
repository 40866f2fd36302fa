import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdtemp, rm, stat, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isKmsError } from '../core/errors.js'
import type { DomainState } from './seal.js'
import {
  checkDomainState,
  createSealKeyFile,
  loadOrCreateSealKey,
  parseDomainState,
  readSealKeyFile,
  sealDomainState,
  sealKeyPath,
  serializeDomainState,
  unsealDomainState,
  zeroizeDomainState,
} from './seal.js'

const internal = (e: unknown): boolean => isKmsError(e, 'KMSInternalException')
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const filled = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v)

const sealKey = filled(32, 0x5e)
const iv = filled(12, 0x1f)
const state = (): DomainState => ({
  domainId: filled(16, 0xd0),
  keys: [
    { id: filled(16, 0x01), key: filled(32, 0xa1), active: false },
    { id: filled(16, 0x02), key: filled(32, 0xa2), active: true },
  ],
})
const summary = (s: DomainState) => ({
  domainId: toHex(s.domainId),
  keys: s.keys.map((k) => ({ id: toHex(k.id), key: toHex(k.key), active: k.active })),
})

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'trent-seal-'))
  try {
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

describe('domain state serialisation', () => {
  it('round-trips, keeping order and the active flag', () => {
    const bytes = serializeDomainState(state())
    assert.equal(bytes.length, 1 + 16 + 2 + 2 * 49)
    const parsed = parseDomainState(bytes)
    assert.ok(parsed)
    assert.deepEqual(summary(parsed), summary(state()))
  })

  it('rejects unknown flag bits, wrong versions and wrong lengths', () => {
    const bytes = serializeDomainState(state())
    const flags = bytes.slice()
    flags[1 + 16 + 2 + 16] = 0x03
    assert.equal(parseDomainState(flags), undefined)
    const version = bytes.slice()
    version[0] = 2
    assert.equal(parseDomainState(version), undefined)
    assert.equal(parseDomainState(bytes.subarray(0, bytes.length - 1)), undefined)
    assert.equal(parseDomainState(new Uint8Array([...bytes, 0])), undefined)
  })

  it('zeroizeDomainState overwrites every domain key', () => {
    const s = state()
    zeroizeDomainState(s)
    assert.ok(s.keys.every((k) => k.key.every((b) => b === 0)))
  })

  it('Precondition: A domain id is 16 bytes.', () => {
    assert.throws(() => checkDomainState({ ...state(), domainId: filled(15, 1) }), internal)
  })

  it('Precondition: A domain has between 1 and 65535 domain keys.', () => {
    assert.throws(() => checkDomainState({ ...state(), keys: [] }), internal)
  })

  it('Precondition: A domain key has a 16-byte id and a 32-byte key.', () => {
    assert.throws(() => checkDomainState({ ...state(), keys: [{ id: filled(16, 1), key: filled(16, 1), active: true }] }), internal)
    assert.throws(() => checkDomainState({ ...state(), keys: [{ id: filled(8, 1), key: filled(32, 1), active: true }] }), internal)
  })

  it('Precondition: Domain key ids are unique within a domain.', () => {
    const s = state()
    s.keys[0] = { id: filled(16, 0x02), key: filled(32, 3), active: false }
    assert.throws(() => checkDomainState(s), internal)
  })

  it('Precondition: A domain has exactly one active domain key.', () => {
    const none = state()
    none.keys.forEach((k) => (k.active = false))
    assert.throws(() => checkDomainState(none), internal)
    const two = state()
    two.keys.forEach((k) => (k.active = true))
    assert.throws(() => checkDomainState(two), internal)
    assert.throws(() => serializeDomainState(two), internal)
  })
})

describe('sealed domain', () => {
  it('unseals under the seal key it was sealed with', () => {
    const sealed = sealDomainState(state(), sealKey, iv)
    assert.equal(sealed[0], 0x01)
    assert.equal(toHex(sealed.subarray(1, 17)), toHex(state().domainId))
    assert.ok(!Buffer.from(sealed).includes(Buffer.from(filled(32, 0xa2))), 'no domain key in clear')
    assert.deepEqual(summary(unsealDomainState(sealed, sealKey)), summary(state()))
  })

  it('does not unseal under another seal key', () => {
    const sealed = sealDomainState(state(), sealKey, iv)
    assert.throws(() => unsealDomainState(sealed, filled(32, 0x5f)), internal)
  })

  it('does not unseal when any byte is changed, removed or added', () => {
    const sealed = sealDomainState(state(), sealKey, iv)
    for (let i = 0; i < sealed.length; i++) {
      const bad = sealed.slice()
      bad[i] = (bad[i] as number) ^ 0x01
      assert.throws(() => unsealDomainState(bad, sealKey), internal, `byte ${i}`)
    }
    for (let n = 0; n < sealed.length; n++) assert.throws(() => unsealDomainState(sealed.subarray(0, n), sealKey), internal)
    assert.throws(() => unsealDomainState(new Uint8Array([...sealed, 0]), sealKey), internal)
  })

  it('gives the same message for every unseal failure', () => {
    const sealed = sealDomainState(state(), sealKey, iv)
    const messages = new Set<string>()
    for (const attempt of [() => unsealDomainState(sealed, filled(32, 1)), () => unsealDomainState(sealed.subarray(1), sealKey)]) {
      try {
        attempt()
      } catch (e) {
        messages.add((e as Error).message)
      }
    }
    assert.equal(messages.size, 1)
  })

  it('Precondition: A seal key is 32 bytes.', () => {
    assert.throws(() => sealDomainState(state(), filled(16, 1), iv), internal)
    assert.throws(() => unsealDomainState(sealDomainState(state(), sealKey, iv), filled(31, 1)), internal)
  })
})

describe('seal key file', () => {
  it('is created with mode 0600 and read back', async () => {
    await withTempDir(async (dir) => {
      const key = await loadOrCreateSealKey(join(dir, 'data'))
      assert.equal(key.length, 32)
      const info = await stat(sealKeyPath(join(dir, 'data')))
      if (process.platform !== 'win32') {
        assert.equal(info.mode & 0o777, 0o600)
        assert.equal((await stat(join(dir, 'data'))).mode & 0o077, 0)
      }
      const again = await loadOrCreateSealKey(join(dir, 'data'))
      assert.equal(toHex(again), toHex(key))
    })
  })

  it('is never overwritten by a second create', async () => {
    await withTempDir(async (dir) => {
      const path = sealKeyPath(dir)
      const first = await createSealKeyFile(path)
      await assert.rejects(createSealKeyFile(path), (e: NodeJS.ErrnoException) => e.code === 'EEXIST')
      assert.equal(toHex(await readSealKeyFile(path)), toHex(first))
    })
  })

  it('Precondition: A seal key file is a regular file of exactly 32 bytes.', async () => {
    await withTempDir(async (dir) => {
      const path = sealKeyPath(dir)
      await writeFile(path, new Uint8Array(31), { mode: 0o600 })
      await assert.rejects(readSealKeyFile(path), internal)
      await writeFile(path, new Uint8Array(33), { mode: 0o600 })
      await assert.rejects(readSealKeyFile(path), internal)
      const asDir = join(dir, 'sub')
      await mkdir(join(asDir, 'seal.key'), { recursive: true, mode: 0o700 })
      await assert.rejects(readSealKeyFile(sealKeyPath(asDir)), internal)
    })
  })

  it('Precondition: A seal key file grants no access to group or others.', { skip: process.platform === 'win32' }, async () => {
    await withTempDir(async (dir) => {
      const path = sealKeyPath(dir)
      await createSealKeyFile(path)
      for (const mode of [0o640, 0o604, 0o644, 0o620, 0o602]) {
        await chmod(path, mode)
        await assert.rejects(readSealKeyFile(path), internal, `mode ${mode.toString(8)}`)
        await assert.rejects(loadOrCreateSealKey(dir), internal)
      }
      await chmod(path, 0o400)
      assert.equal((await readSealKeyFile(path)).length, 32)
    })
  })
})
