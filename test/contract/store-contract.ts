import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import { isKmsError } from '../../src/core/errors.js'
import { grantContract } from './grant-contract.js'
import {
  StoreConflictError,
  type AliasRecord,
  type CredentialRecord,
  type KeyMaterialRecord,
  type KeyRecord,
  type Store,
} from '../../src/store/store.js'

/** How a backend is opened for {@link storeContract}. */
export interface StoreContractOptions {
  /**
   * Opens another store on the same database as `store`, not yet migrated. Called while `store` is
   * open (two connections) and after it was closed (persistence). Leave out for databases that live
   * only as long as their connection, such as SQLite `:memory:`; those tests are then skipped.
   */
  reopen?: (store: Store) => Promise<Store>
}

const ACCOUNT = '111122223333'
const OTHER_ACCOUNT = '444455556666'
const REGION = 'eu-west-1'
const OTHER_REGION = 'us-east-1'

/** A key record with every optional field absent unless `overrides` sets it. */
export function sampleKey(overrides: Partial<KeyRecord> = {}): KeyRecord {
  const keyId = overrides.keyId ?? randomUUID()
  const accountId = overrides.accountId ?? ACCOUNT
  const region = overrides.region ?? REGION
  return {
    keyId,
    arn: `arn:aws:kms:${region}:${accountId}:key/${keyId}`,
    accountId,
    region,
    creationDate: 1_700_000_000_000,
    description: 'a key',
    keyUsage: 'ENCRYPT_DECRYPT',
    keySpec: 'SYMMETRIC_DEFAULT',
    origin: 'AWS_KMS',
    keyState: 'Enabled',
    keyManager: 'CUSTOMER',
    multiRegion: false,
    policy: '{"Version":"2012-10-17","Statement":[]}',
    tags: [],
    version: 1,
    ...overrides,
  }
}

/** A key in PendingDeletion, due at `deletionDate` (default 1_800_000_000_000). */
function pendingKey(overrides: Partial<KeyRecord> = {}): KeyRecord {
  return sampleKey({ keyState: 'PendingDeletion', deletionDate: 1_800_000_000_000, pendingWindowInDays: 7, ...overrides })
}

function sampleAlias(key: KeyRecord, aliasName: string, overrides: Partial<AliasRecord> = {}): AliasRecord {
  return {
    accountId: key.accountId,
    region: key.region,
    aliasName,
    targetKeyId: key.keyId,
    creationDate: 1_700_000_001_000,
    lastUpdatedDate: 1_700_000_001_000,
    ...overrides,
  }
}

/** Orders strings by their UTF-8 bytes, the order listAliases promises. */
function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

function sampleMaterial(keyId: string, seed = 1): KeyMaterialRecord {
  return { keyId, keyMaterialId: hex64(seed), ekt: bytes(64, seed), createdAt: 1_700_000_000_123 }
}

function sampleCredential(overrides: Partial<CredentialRecord> = {}): CredentialRecord {
  return {
    accessKeyId: 'AKIATRENTEXAMPLE0001',
    accountId: ACCOUNT,
    principalArn: `arn:aws:iam::${ACCOUNT}:root`,
    wrappedSecret: bytes(80, 7),
    createdAt: 1_700_000_000_456,
    ...overrides,
  }
}

/** Every byte value, including 0x00 runs that a text column would mangle. */
function bytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 131 + seed * 17) & 0xff)
}

function hex64(seed: number): string {
  return seed.toString(16).padStart(2, '0').repeat(32)
}

/** True for a Uint8Array that is not a Buffer and alone in its ArrayBuffer. */
function isPlainOwnedBytes(b: unknown): boolean {
  return (
    b instanceof Uint8Array &&
    Object.getPrototypeOf(b) === Uint8Array.prototype &&
    b.byteOffset === 0 &&
    b.buffer.byteLength === b.byteLength
  )
}

function assertInvalidMarker(e: unknown): true {
  assert.ok(isKmsError(e, 'InvalidMarkerException'), `expected InvalidMarkerException, got ${String(e)}`)
  return true
}

/** Strings that look like `marker` but were not issued: garbage, truncations, edits. */
function tamperedMarkers(marker: string): string[] {
  const flipped = (i: number) => marker.slice(0, i) + (marker[i] === 'A' ? 'B' : 'A') + marker.slice(i + 1)
  return [
    '',
    'garbage',
    '!!!!',
    'null',
    '0',
    '1',
    `${marker}A`,
    `${marker}${marker}`,
    marker.slice(0, -1),
    marker.slice(1),
    flipped(0),
    flipped(Math.floor(marker.length / 2)),
    flipped(marker.length - 1),
    ` ${marker}`,
    marker.toUpperCase() === marker ? marker.toLowerCase() : marker.toUpperCase(),
  ].filter((m) => m !== marker)
}

/**
 * The behaviour every {@link Store} backend must have. `makeStore` opens a store on a fresh, empty
 * database; the suite migrates and closes it itself.
 */
export function storeContract(name: string, makeStore: () => Promise<Store>, options: StoreContractOptions = {}): void {
  async function withStore(body: (store: Store) => Promise<void>): Promise<void> {
    const store = await makeStore()
    try {
      await store.migrate()
      await body(store)
    } finally {
      await store.close()
    }
  }

  const { reopen } = options
  const needsReopen = reopen === undefined ? { skip: 'the database does not outlive its connection' } : {}

  describe(`Store contract: ${name}`, () => {
    grantContract(withStore)

    describe('key last usage', () => {
      it('keeps the newest use per key, whatever order the writes come in, and a tracking start', () =>
        withStore(async (store) => {
          const before = Date.now()
          const a = sampleKey()
          const b = sampleKey()
          await store.createKey(a)
          await store.createKey(b)
          assert.equal(await store.getKeyLastUsage(a.keyId), undefined)
          const use = (keyId: string, timestamp: number, operation = 'Encrypt') => ({ keyId, operation, timestamp, eventId: `evt-${timestamp}`, requestId: `req-${timestamp}` })
          await store.recordKeyUsage([use(a.keyId, 2000), use(b.keyId, 1000, 'Decrypt')])
          await store.recordKeyUsage([use(a.keyId, 1500, 'Decrypt')])
          assert.deepEqual(await store.getKeyLastUsage(a.keyId), use(a.keyId, 2000))
          assert.deepEqual(await store.getKeyLastUsage(b.keyId), use(b.keyId, 1000, 'Decrypt'))
          await store.recordKeyUsage([use(b.keyId, 3000, 'ReEncrypt')])
          assert.deepEqual(await store.getKeyLastUsage(b.keyId), use(b.keyId, 3000, 'ReEncrypt'))
          await store.recordKeyUsage([])
          const start = await store.keyUsageTrackingStart()
          assert.ok(start > 0 && start <= Date.now() && start > before - 60 * 60 * 1000, String(start))
          await store.migrate()
          assert.equal(await store.keyUsageTrackingStart(), start)
        }))

      it('goes with its key: deleted with it, and a use recorded after the deletion adds nothing', () =>
        withStore(async (store) => {
          const key = pendingKey()
          await store.createKey(key)
          const use = { keyId: key.keyId, operation: 'Decrypt', timestamp: 1000, eventId: 'evt-1', requestId: 'req-1' }
          await store.recordKeyUsage([use])
          assert.deepEqual(await store.getKeyLastUsage(key.keyId), use)
          assert.equal(await store.deleteKey(key), true)
          assert.equal(await store.getKeyLastUsage(key.keyId), undefined)
          await store.recordKeyUsage([{ ...use, timestamp: 2000 }])
          assert.equal(await store.getKeyLastUsage(key.keyId), undefined)
        }))
    })

    describe('canary contexts', () => {
      it('marks each pair once, lists them by key then value (code points), and unmarks them', () =>
        withStore(async (store) => {
          assert.deepEqual(await store.listCanaryContexts(), [])
          const pair = (key: string, value: string, createdAt = 1000) => ({ key, value, createdAt })
          assert.equal(await store.putCanaryContext(pair('purpose', 'tripwire')), true)
          assert.equal(await store.putCanaryContext(pair('purpose', 'tripwire', 2000)), false)
          assert.equal(await store.putCanaryContext(pair('app', 'Zeta')), true)
          assert.equal(await store.putCanaryContext(pair('app', 'alpha')), true)
          assert.equal(await store.putCanaryContext(pair('purpose', 'é=x')), true)
          assert.deepEqual(await store.listCanaryContexts(), [pair('app', 'Zeta'), pair('app', 'alpha'), pair('purpose', 'tripwire'), pair('purpose', 'é=x')])
          assert.equal(await store.deleteCanaryContext('purpose', 'tripwire'), true)
          assert.equal(await store.deleteCanaryContext('purpose', 'tripwire'), false)
          assert.equal(await store.deleteCanaryContext('app', 'none'), false)
          assert.deepEqual((await store.listCanaryContexts()).map((c) => c.value), ['Zeta', 'alpha', 'é=x'])
        }))
    })

    describe('migrate', () => {
      it('can run again on a migrated database and keeps the data', () =>
        withStore(async (store) => {
          const key = sampleKey()
          await store.createKey(key)
          await store.migrate()
          await store.migrate()
          assert.deepEqual(await store.getKey(key.keyId), key)
        }))

      it('leaves a fresh database empty', () =>
        withStore(async (store) => {
          assert.equal(await store.getSealedDomain(), undefined)
          assert.deepEqual(await store.listKeys(ACCOUNT, REGION, 10), { keys: [] })
          assert.equal(await store.getCredential('AKIATRENTEXAMPLE0001'), undefined)
        }))
    })

    describe('sealed domain', () => {
      it('is stored once and returned byte for byte', () =>
        withStore(async (store) => {
          const sealed = bytes(300, 3)
          assert.equal(await store.initSealedDomain(sealed), true)
          const got = await store.getSealedDomain()
          assert.deepEqual(got, sealed)
          assert.ok(isPlainOwnedBytes(got))
        }))

      it('is not replaced by a second init', () =>
        withStore(async (store) => {
          assert.equal(await store.initSealedDomain(bytes(32, 1)), true)
          assert.equal(await store.initSealedDomain(bytes(32, 2)), false)
          assert.deepEqual(await store.getSealedDomain(), bytes(32, 1))
        }))

      it('lets exactly one of two concurrent inits win', () =>
        withStore(async (store) => {
          const a = bytes(48, 10)
          const b = bytes(48, 11)
          const results = await Promise.all([store.initSealedDomain(a), store.initSealedDomain(b)])
          assert.equal(results.filter(Boolean).length, 1)
          assert.deepEqual(await store.getSealedDomain(), results[0] ? a : b)
        }))

      it('lets exactly one of two connections win the init', needsReopen, () =>
        withStore(async (store) => {
          const other = await reopen!(store)
          try {
            await other.migrate()
            const a = bytes(48, 20)
            const b = bytes(48, 21)
            const results = await Promise.all([store.initSealedDomain(a), other.initSealedDomain(b)])
            assert.equal(results.filter(Boolean).length, 1)
            const winner = results[0] ? a : b
            assert.deepEqual(await store.getSealedDomain(), winner)
            assert.deepEqual(await other.getSealedDomain(), winner)
          } finally {
            await other.close()
          }
        }))
    })

    describe('keys', () => {
      it('round-trips a key with every optional field absent', () =>
        withStore(async (store) => {
          const key = sampleKey()
          await store.createKey(key)
          const got = await store.getKey(key.keyId)
          assert.deepEqual(got, key)
          assert.equal(got !== undefined && 'currentKeyMaterialId' in got, false)
          assert.equal(got !== undefined && 'deletionDate' in got, false)
          assert.equal(got !== undefined && 'pendingWindowInDays' in got, false)
        }))

      it('round-trips a key with every optional field set, tags and policy text intact', () =>
        withStore(async (store) => {
          const key = sampleKey({
            description: 'ünïcødé ✓ "quoted" \\ back\nslash',
            keyState: 'PendingDeletion',
            keyManager: 'AWS',
            multiRegion: true,
            currentKeyMaterialId: hex64(9),
            deletionDate: 1_800_000_000_000,
            pendingWindowInDays: 7,
            policy: '{ "Version" : "2012-10-17",\n  "Statement": [] }',
            tags: [
              { TagKey: 'env', TagValue: 'prod' },
              { TagKey: 'empty', TagValue: '' },
              { TagKey: 'ключ', TagValue: '値 "x"' },
            ],
            version: 4,
          })
          await store.createKey(key)
          assert.deepEqual(await store.getKey(key.keyId), key)
        }))

      it('round-trips descriptions and tags with U+0000 and other control characters', () =>
        withStore(async (store) => {
          const key = sampleKey({
            description: 'nul \u0000 inside, \u0001\u001f\u007f, tab\t, \u2028 and \ud83d\udd11',
            tags: [{ TagKey: 'k\u0000', TagValue: '\u0000' }],
          })
          await store.createKey(key)
          assert.deepEqual(await store.getKey(key.keyId), key)
          const v2: KeyRecord = { ...key, description: '\u0000', version: 2 }
          await store.updateKey(v2)
          assert.deepEqual(await store.getKey(key.keyId), v2)
          assert.deepEqual((await store.listKeys(ACCOUNT, REGION, 10)).keys, [v2])
        }))

      it('returns undefined for an unknown key', () =>
        withStore(async (store) => {
          assert.equal(await store.getKey(randomUUID()), undefined)
        }))

      it('creates a key with its first material', () =>
        withStore(async (store) => {
          const key = sampleKey({ currentKeyMaterialId: hex64(5) })
          const material = sampleMaterial(key.keyId, 5)
          await store.createKey(key, material)
          assert.deepEqual(await store.getKey(key.keyId), key)
          const got = await store.getKeyMaterial(key.keyId, material.keyMaterialId)
          assert.deepEqual(got, material)
          assert.ok(isPlainOwnedBytes(got?.ekt))
        }))

      it('refuses a duplicate key id and keeps the first key', () =>
        withStore(async (store) => {
          const key = sampleKey()
          await store.createKey(key)
          await assert.rejects(store.createKey({ ...key, description: 'second' }), StoreConflictError)
          assert.deepEqual(await store.getKey(key.keyId), key)
        }))

      it('leaves no key behind when its material cannot be stored', () =>
        withStore(async (store) => {
          const key = sampleKey()
          const broken = { ...sampleMaterial(key.keyId), ekt: null as unknown as Uint8Array }
          await assert.rejects(store.createKey(key, broken))
          assert.equal(await store.getKey(key.keyId), undefined)
          assert.deepEqual(await store.listKeys(ACCOUNT, REGION, 10), { keys: [] })
        }))

      it('refuses material that belongs to another key', () =>
        withStore(async (store) => {
          const key = sampleKey()
          await assert.rejects(store.createKey(key, sampleMaterial(randomUUID())))
          assert.equal(await store.getKey(key.keyId), undefined)
        }))
    })

    describe('updateKey', () => {
      it('writes the next version', () =>
        withStore(async (store) => {
          const key = sampleKey()
          await store.createKey(key)
          const v2: KeyRecord = { ...key, keyState: 'Disabled', description: 'changed', tags: [{ TagKey: 'a', TagValue: 'b' }], version: 2 }
          await store.updateKey(v2)
          assert.deepEqual(await store.getKey(key.keyId), v2)
          const v3: KeyRecord = { ...v2, keyState: 'PendingDeletion', deletionDate: 1_800_000_000_000, pendingWindowInDays: 30, version: 3 }
          await store.updateKey(v3)
          assert.deepEqual(await store.getKey(key.keyId), v3)
        }))

      it('clears optional fields that the new version leaves out', () =>
        withStore(async (store) => {
          const key = sampleKey({ keyState: 'PendingDeletion', deletionDate: 1_800_000_000_000, pendingWindowInDays: 7 })
          await store.createKey(key)
          const { deletionDate: _d, pendingWindowInDays: _p, ...rest } = key
          const restored: KeyRecord = { ...rest, keyState: 'Disabled', version: 2 }
          await store.updateKey(restored)
          assert.deepEqual(await store.getKey(key.keyId), restored)
        }))

      it('refuses a stale write: the second of two writers from the same version loses', () =>
        withStore(async (store) => {
          const key = sampleKey()
          await store.createKey(key)
          const read1 = await store.getKey(key.keyId)
          const read2 = await store.getKey(key.keyId)
          assert.ok(read1 && read2)
          await store.updateKey({ ...read1, keyState: 'Disabled', version: read1.version + 1 })
          await assert.rejects(store.updateKey({ ...read2, description: 'lost', version: read2.version + 1 }), StoreConflictError)
          const stored = await store.getKey(key.keyId)
          assert.equal(stored?.keyState, 'Disabled')
          assert.equal(stored?.description, key.description)
          assert.equal(stored?.version, 2)
        }))

      it('refuses a version that skips ahead or repeats', () =>
        withStore(async (store) => {
          const key = sampleKey()
          await store.createKey(key)
          await assert.rejects(store.updateKey({ ...key, version: 3 }), StoreConflictError)
          await assert.rejects(store.updateKey({ ...key, version: 1 }), StoreConflictError)
          assert.deepEqual(await store.getKey(key.keyId), key)
        }))

      it('refuses to update a key that does not exist, without creating it', () =>
        withStore(async (store) => {
          const key = sampleKey({ version: 2 })
          await assert.rejects(store.updateKey(key), StoreConflictError)
          assert.equal(await store.getKey(key.keyId), undefined)
        }))

      it('detects a conflict between two connections', needsReopen, () =>
        withStore(async (store) => {
          const other = await reopen!(store)
          try {
            await other.migrate()
            const key = sampleKey()
            await store.createKey(key)
            const seenByOther = await other.getKey(key.keyId)
            assert.ok(seenByOther)
            await store.updateKey({ ...key, keyState: 'Disabled', version: 2 })
            await assert.rejects(other.updateKey({ ...seenByOther, version: 2 }), StoreConflictError)
            assert.equal((await other.getKey(key.keyId))?.keyState, 'Disabled')
          } finally {
            await other.close()
          }
        }))
    })

    describe('listKeys', () => {
      async function seed(store: Store, count: number): Promise<KeyRecord[]> {
        const mine: KeyRecord[] = []
        for (let i = 0; i < count; i++) {
          // Interleave keys of other listings, and give some keys the same creation date.
          await store.createKey(sampleKey({ accountId: OTHER_ACCOUNT, creationDate: 1_700_000_000_000 + i }))
          await store.createKey(sampleKey({ region: OTHER_REGION, creationDate: 1_700_000_000_000 + i }))
          const key = sampleKey({ creationDate: 1_700_000_000_000 + Math.floor(i / 3), description: `key ${i}` })
          await store.createKey(key)
          mine.push(key)
        }
        return mine
      }

      it('pages through 25 keys oldest first with limit 10, without gaps, duplicates or other listings', () =>
        withStore(async (store) => {
          const mine = await seed(store, 25)
          const p1 = await store.listKeys(ACCOUNT, REGION, 10)
          assert.equal(p1.keys.length, 10)
          assert.equal(typeof p1.nextMarker, 'string')
          const p2 = await store.listKeys(ACCOUNT, REGION, 10, p1.nextMarker)
          assert.equal(p2.keys.length, 10)
          assert.equal(typeof p2.nextMarker, 'string')
          const p3 = await store.listKeys(ACCOUNT, REGION, 10, p2.nextMarker)
          assert.equal(p3.keys.length, 5)
          assert.equal('nextMarker' in p3, false)
          assert.deepEqual([...p1.keys, ...p2.keys, ...p3.keys], mine)
        }))

      it('gives no marker when the last page is exactly full', () =>
        withStore(async (store) => {
          const mine = await seed(store, 20)
          const p1 = await store.listKeys(ACCOUNT, REGION, 10)
          const p2 = await store.listKeys(ACCOUNT, REGION, 10, p1.nextMarker)
          assert.equal('nextMarker' in p2, false)
          assert.deepEqual([...p1.keys, ...p2.keys].map((k) => k.keyId), mine.map((k) => k.keyId))
        }))

      it('returns everything in one page when the limit allows, and works with limit 1', () =>
        withStore(async (store) => {
          const mine = await seed(store, 3)
          assert.deepEqual(await store.listKeys(ACCOUNT, REGION, 3), { keys: mine })
          const seen: string[] = []
          let marker: string | undefined
          do {
            const page = await store.listKeys(ACCOUNT, REGION, 1, marker)
            assert.equal(page.keys.length, 1)
            seen.push(page.keys[0]!.keyId)
            marker = page.nextMarker
          } while (marker !== undefined)
          assert.deepEqual(seen, mine.map((k) => k.keyId))
        }))

      it('includes keys created after a marker was issued', () =>
        withStore(async (store) => {
          const mine = await seed(store, 3)
          const p1 = await store.listKeys(ACCOUNT, REGION, 2)
          const later = sampleKey({ creationDate: 1_800_000_000_000 })
          await store.createKey(later)
          const p2 = await store.listKeys(ACCOUNT, REGION, 2, p1.nextMarker)
          assert.deepEqual([...p1.keys, ...p2.keys], [...mine, later])
        }))

      it('lists the other account and region separately', () =>
        withStore(async (store) => {
          await seed(store, 4)
          assert.equal((await store.listKeys(OTHER_ACCOUNT, REGION, 100)).keys.length, 4)
          assert.equal((await store.listKeys(ACCOUNT, OTHER_REGION, 100)).keys.length, 4)
          assert.deepEqual(await store.listKeys(OTHER_ACCOUNT, OTHER_REGION, 100), { keys: [] })
        }))

      it('refuses markers it did not issue with InvalidMarkerException', () =>
        withStore(async (store) => {
          await seed(store, 5)
          const { nextMarker } = await store.listKeys(ACCOUNT, REGION, 2)
          assert.ok(nextMarker)
          for (const marker of tamperedMarkers(nextMarker)) {
            await assert.rejects(store.listKeys(ACCOUNT, REGION, 2, marker), assertInvalidMarker, `marker ${JSON.stringify(marker)}`)
          }
        }))

      it('refuses a marker issued for another account or region', () =>
        withStore(async (store) => {
          await seed(store, 5)
          const { nextMarker } = await store.listKeys(ACCOUNT, REGION, 2)
          assert.ok(nextMarker)
          await assert.rejects(store.listKeys(OTHER_ACCOUNT, REGION, 2, nextMarker), assertInvalidMarker)
          await assert.rejects(store.listKeys(ACCOUNT, OTHER_REGION, 2, nextMarker), assertInvalidMarker)
        }))

      it('accepts the same marker more than once', () =>
        withStore(async (store) => {
          await seed(store, 5)
          const { nextMarker } = await store.listKeys(ACCOUNT, REGION, 2)
          assert.deepEqual(await store.listKeys(ACCOUNT, REGION, 2, nextMarker), await store.listKeys(ACCOUNT, REGION, 2, nextMarker))
        }))
    })

    describe('key materials', () => {
      it('returns undefined for an unknown material or key', () =>
        withStore(async (store) => {
          const key = sampleKey()
          await store.createKey(key, sampleMaterial(key.keyId, 1))
          assert.equal(await store.getKeyMaterial(key.keyId, hex64(2)), undefined)
          assert.equal(await store.getKeyMaterial(randomUUID(), hex64(1)), undefined)
        }))

      it('keeps materials of different keys apart', () =>
        withStore(async (store) => {
          const a = sampleKey()
          const b = sampleKey()
          await store.createKey(a, sampleMaterial(a.keyId, 1))
          await store.createKey(b, { ...sampleMaterial(b.keyId, 1), ekt: bytes(64, 99) })
          assert.deepEqual((await store.getKeyMaterial(a.keyId, hex64(1)))?.ekt, bytes(64, 1))
          assert.deepEqual((await store.getKeyMaterial(b.keyId, hex64(1)))?.ekt, bytes(64, 99))
        }))

      it('stores exactly the bytes of a view into a larger buffer, and hands out copies', () =>
        withStore(async (store) => {
          const backing = bytes(256, 4)
          const ekt = backing.subarray(16, 16 + 100)
          const key = sampleKey()
          await store.createKey(key, { ...sampleMaterial(key.keyId), ekt })
          const first = await store.getKeyMaterial(key.keyId, hex64(1))
          assert.deepEqual(first?.ekt, Uint8Array.from(ekt))
          assert.ok(isPlainOwnedBytes(first?.ekt))
          first!.ekt.fill(0)
          assert.deepEqual((await store.getKeyMaterial(key.keyId, hex64(1)))?.ekt, Uint8Array.from(ekt))
        }))
    })

    describe('key material lifecycle', () => {
      it('round-trips the rotation and import fields of keys and materials', () =>
        withStore(async (store) => {
          const key = sampleKey({
            origin: 'EXTERNAL',
            currentKeyMaterialId: hex64(1),
            rotationPeriodInDays: 90,
            nextRotationDate: 1_750_000_000_000,
            onDemandRotationStartDate: 1_700_000_005_000,
            pendingKeyMaterialId: hex64(2),
            expirationModel: 'KEY_MATERIAL_EXPIRES',
            validTo: 1_760_000_000_000,
          })
          const first: KeyMaterialRecord = {
            ...sampleMaterial(key.keyId, 1),
            importState: 'IMPORTED',
            expirationModel: 'KEY_MATERIAL_EXPIRES',
            validTo: 1_760_000_000_000,
            description: 'first import',
          }
          await store.createKey(key, first)
          assert.deepEqual(await store.getKey(key.keyId), key)
          assert.deepEqual(await store.getKeyMaterial(key.keyId, hex64(1)), first)
          const rotated: KeyMaterialRecord = { ...sampleMaterial(key.keyId, 2), createdAt: 1_700_000_009_000, rotationType: 'ON_DEMAND', rotationDate: 1_700_000_009_000 }
          const next = { ...key, currentKeyMaterialId: hex64(2), version: 2 }
          delete next.pendingKeyMaterialId
          await store.putKeyMaterials(next, [rotated])
          assert.deepEqual(await store.getKey(key.keyId), next)
          assert.deepEqual(await store.listKeyMaterials(key.keyId), [first, rotated])
        }))

      it('putKeyMaterials replaces a material and clears fields it leaves out; a stale version writes nothing', () =>
        withStore(async (store) => {
          const key = sampleKey({ origin: 'EXTERNAL', currentKeyMaterialId: hex64(1), expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })
          const imported: KeyMaterialRecord = { ...sampleMaterial(key.keyId, 1), importState: 'IMPORTED', expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }
          await store.createKey(key, imported)
          const deleted: KeyMaterialRecord = { keyId: key.keyId, keyMaterialId: hex64(1), ekt: new Uint8Array(0), createdAt: imported.createdAt, importState: 'PENDING_IMPORT' }
          const pendingImport = { ...key, keyState: 'PendingImport' as const, version: 2 }
          delete pendingImport.expirationModel
          await store.putKeyMaterials(pendingImport, [deleted])
          assert.deepEqual(await store.getKeyMaterial(key.keyId, hex64(1)), deleted)
          assert.deepEqual(await store.getKey(key.keyId), pendingImport)
          await assert.rejects(store.putKeyMaterials({ ...key, version: 2 }, [imported]), StoreConflictError)
          assert.deepEqual(await store.getKeyMaterial(key.keyId, hex64(1)), deleted, 'unchanged')
          await assert.rejects(store.putKeyMaterials(sampleKey({ version: 2 }), []), StoreConflictError)
        }))

      it('keysDueForRotation returns enabled keys whose rotation date has come, by date', () =>
        withStore(async (store) => {
          const later = sampleKey({ rotationPeriodInDays: 365, nextRotationDate: 2_000 })
          const earlier = sampleKey({ region: OTHER_REGION, rotationPeriodInDays: 365, nextRotationDate: 1_000 })
          const disabled = sampleKey({ keyState: 'Disabled', rotationPeriodInDays: 365, nextRotationDate: 500 })
          const notYet = sampleKey({ rotationPeriodInDays: 365, nextRotationDate: 5_000 })
          const off = sampleKey()
          for (const k of [later, earlier, disabled, notYet, off]) await store.createKey(k)
          assert.deepEqual((await store.keysDueForRotation(2_000, 10)).map((k) => k.keyId), [earlier.keyId, later.keyId])
          assert.deepEqual((await store.keysDueForRotation(2_000, 1)).map((k) => k.keyId), [earlier.keyId])
          assert.deepEqual(await store.keysDueForRotation(999, 10), [])
        }))

      it('materialsDueForExpiry returns imported materials whose validTo has come, by validTo', () =>
        withStore(async (store) => {
          const a = sampleKey({ origin: 'EXTERNAL' })
          const b = sampleKey({ origin: 'EXTERNAL' })
          const m = (keyId: string, seed: number, extra: Partial<KeyMaterialRecord>): KeyMaterialRecord => ({ ...sampleMaterial(keyId, seed), ...extra })
          await store.createKey(a, m(a.keyId, 1, { importState: 'IMPORTED', expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: 3_000 }))
          await store.createKey(b, m(b.keyId, 1, { importState: 'IMPORTED', expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: 1_000 }))
          await store.putKeyMaterials({ ...b, version: 2 }, [
            m(b.keyId, 2, { importState: 'PENDING_IMPORT', validTo: 500 }),
            m(b.keyId, 3, { importState: 'IMPORTED', expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }),
          ])
          const due = await store.materialsDueForExpiry(3_000, 10)
          assert.deepEqual(due.map((x) => [x.keyId, x.keyMaterialId]), [[b.keyId, hex64(1)], [a.keyId, hex64(1)]])
          assert.deepEqual(await store.materialsDueForExpiry(999, 10), [])
        }))

      it('stores import tokens by hash, deletes each once, and drops them with their key', () =>
        withStore(async (store) => {
          const key = pendingKey({ origin: 'EXTERNAL', keyState: 'PendingDeletion' })
          await store.createKey(key)
          const token = { tokenHash: bytes(32, 5), keyId: key.keyId, wrappingKeySpec: 'RSA_2048', wrappingAlgorithm: 'RSAES_OAEP_SHA_256', wrappedPrivateKey: bytes(1300, 6), validTo: 1_700_086_400_000 }
          const other = { ...token, tokenHash: bytes(32, 8) }
          await store.putImportToken(token)
          await store.putImportToken(other)
          assert.deepEqual(await store.getImportToken(token.tokenHash), token)
          assert.equal(await store.getImportToken(bytes(32, 9)), undefined)
          assert.equal(await store.deleteImportToken(token.tokenHash), true)
          assert.equal(await store.deleteImportToken(token.tokenHash), false)
          assert.equal(await store.getImportToken(token.tokenHash), undefined)
          await assert.rejects(store.putImportToken({ ...token, keyId: randomUUID() }), StoreConflictError)
          assert.equal(await store.deleteKey(key), true)
          assert.equal(await store.getImportToken(other.tokenHash), undefined)
        }))

      it('deleteExpiredImportTokens deletes the tokens whose validTo has come, and no others', () =>
        withStore(async (store) => {
          const key = sampleKey({ origin: 'EXTERNAL' })
          await store.createKey(key)
          const token = (seed: number, validTo: number) => ({ tokenHash: bytes(32, seed), keyId: key.keyId, wrappingKeySpec: 'RSA_2048', wrappingAlgorithm: 'RSAES_OAEP_SHA_1', wrappedPrivateKey: bytes(100, seed), validTo })
          for (const t of [token(1, 1_000), token(2, 2_000), token(3, 3_000)]) await store.putImportToken(t)
          assert.equal(await store.deleteExpiredImportTokens(2_000), 2)
          assert.equal(await store.deleteExpiredImportTokens(2_000), 0)
          assert.equal(await store.getImportToken(bytes(32, 2)), undefined)
          assert.deepEqual(await store.getImportToken(bytes(32, 3)), token(3, 3_000))
        }))
    })

    describe('deleteKey', () => {
      it('deletes the key, its material and its aliases, and nothing of other keys', () =>
        withStore(async (store) => {
          const key = pendingKey({ currentKeyMaterialId: hex64(1) })
          const other = pendingKey({ currentKeyMaterialId: hex64(1) })
          await store.createKey(key, sampleMaterial(key.keyId, 1))
          await store.createKey(other, sampleMaterial(other.keyId, 1))
          assert.equal(await store.createAlias(sampleAlias(key, 'alias/one')), true)
          assert.equal(await store.createAlias(sampleAlias(key, 'alias/two')), true)
          assert.equal(await store.createAlias(sampleAlias(other, 'alias/other')), true)

          assert.equal(await store.deleteKey(key), true)

          assert.equal(await store.getKey(key.keyId), undefined)
          assert.equal(await store.getKeyMaterial(key.keyId, hex64(1)), undefined)
          assert.equal(await store.getAlias(ACCOUNT, REGION, 'alias/one'), undefined)
          assert.equal(await store.getAliasTarget(ACCOUNT, REGION, 'alias/one'), undefined)
          assert.equal(await store.getAlias(ACCOUNT, REGION, 'alias/two'), undefined)
          assert.deepEqual(await store.listAliases(ACCOUNT, REGION, { keyId: key.keyId, limit: 10 }), { aliases: [] })
          assert.deepEqual((await store.listKeys(ACCOUNT, REGION, 10)).keys, [other])
          assert.deepEqual(await store.keysDueForDeletion(2_000_000_000_000, 10), [other])

          assert.deepEqual(await store.getKey(other.keyId), other)
          assert.deepEqual(await store.getKeyMaterial(other.keyId, hex64(1)), sampleMaterial(other.keyId, 1))
          assert.deepEqual(await store.getAlias(ACCOUNT, REGION, 'alias/other'), sampleAlias(other, 'alias/other'))
        }))

      it('lets the key id be used again afterwards', () =>
        withStore(async (store) => {
          const key = pendingKey()
          await store.createKey(key, sampleMaterial(key.keyId, 1))
          assert.equal(await store.deleteKey(key), true)
          const again = sampleKey({ keyId: key.keyId })
          await store.createKey(again)
          assert.deepEqual(await store.getKey(key.keyId), again)
          assert.equal(await store.getKeyMaterial(key.keyId, hex64(1)), undefined)
        }))

      it('refuses a stale version: a deletion cancelled meanwhile is not done', () =>
        withStore(async (store) => {
          const key = pendingKey()
          await store.createKey(key, sampleMaterial(key.keyId, 1))
          await store.createAlias(sampleAlias(key, 'alias/kept'))
          const { deletionDate: _d, pendingWindowInDays: _p, ...rest } = key
          const cancelled: KeyRecord = { ...rest, keyState: 'Disabled', version: 2 }
          await store.updateKey(cancelled)
          const pendingAgain: KeyRecord = { ...key, version: 3 }
          await store.updateKey(pendingAgain)

          assert.equal(await store.deleteKey(key), false)
          assert.equal(await store.deleteKey({ ...key, version: 4 }), false)
          assert.deepEqual(await store.getKey(key.keyId), pendingAgain)
          assert.deepEqual(await store.getKeyMaterial(key.keyId, hex64(1)), sampleMaterial(key.keyId, 1))
          assert.equal(await store.getAliasTarget(ACCOUNT, REGION, 'alias/kept'), key.keyId)

          assert.equal(await store.deleteKey(pendingAgain), true)
          assert.equal(await store.getKey(key.keyId), undefined)
        }))

      it('refuses a key that is not pending deletion, whatever the record passed says', () =>
        withStore(async (store) => {
          const enabled = sampleKey()
          const disabled = sampleKey({ keyState: 'Disabled' })
          await store.createKey(enabled, sampleMaterial(enabled.keyId, 1))
          await store.createKey(disabled)
          await store.createAlias(sampleAlias(enabled, 'alias/enabled'))

          assert.equal(await store.deleteKey(enabled), false)
          assert.equal(await store.deleteKey({ ...enabled, keyState: 'PendingDeletion', deletionDate: 1 }), false)
          assert.equal(await store.deleteKey({ ...disabled, keyState: 'PendingDeletion', deletionDate: 1 }), false)
          assert.deepEqual(await store.getKey(enabled.keyId), enabled)
          assert.deepEqual(await store.getKey(disabled.keyId), disabled)
          assert.deepEqual(await store.getKeyMaterial(enabled.keyId, hex64(1)), sampleMaterial(enabled.keyId, 1))
          assert.equal(await store.getAliasTarget(ACCOUNT, REGION, 'alias/enabled'), enabled.keyId)
        }))

      it('returns false the second time and for a key that never existed', () =>
        withStore(async (store) => {
          const key = pendingKey()
          await store.createKey(key)
          assert.equal(await store.deleteKey(key), true)
          assert.equal(await store.deleteKey(key), false)
          assert.equal(await store.deleteKey(pendingKey()), false)
        }))

      it('deletes a key once when two connections race', needsReopen, () =>
        withStore(async (store) => {
          const other = await reopen!(store)
          try {
            await other.migrate()
            const key = pendingKey()
            await store.createKey(key, sampleMaterial(key.keyId, 1))
            const results = await Promise.all([store.deleteKey(key), other.deleteKey(key)])
            assert.equal(results.filter(Boolean).length, 1)
            assert.equal(await other.getKey(key.keyId), undefined)
            assert.equal(await other.getKeyMaterial(key.keyId, hex64(1)), undefined)
          } finally {
            await other.close()
          }
        }))
    })

    describe('keysDueForDeletion', () => {
      it('returns due keys of every account and region by deletion date, then creation order', () =>
        withStore(async (store) => {
          const now = 1_800_000_000_000
          const late = pendingKey({ deletionDate: now })
          const early = pendingKey({ accountId: OTHER_ACCOUNT, deletionDate: now - 2000 })
          const tieFirst = pendingKey({ region: OTHER_REGION, deletionDate: now - 1000 })
          const tieSecond = pendingKey({ deletionDate: now - 1000 })
          const future = pendingKey({ deletionDate: now + 1 })
          const notPending = sampleKey({ keyState: 'Disabled', deletionDate: now - 5000 })
          const enabled = sampleKey()
          // Creation order differs from deletion order on purpose.
          for (const k of [late, enabled, tieFirst, future, early, notPending, tieSecond]) await store.createKey(k)

          assert.deepEqual(await store.keysDueForDeletion(now, 10), [early, tieFirst, tieSecond, late])
          assert.deepEqual(await store.keysDueForDeletion(now, 2), [early, tieFirst])
          assert.deepEqual(await store.keysDueForDeletion(now - 1, 10), [early, tieFirst, tieSecond])
          assert.deepEqual(await store.keysDueForDeletion(now - 2001, 10), [])
          assert.deepEqual(await store.keysDueForDeletion(now + 1, 10), [early, tieFirst, tieSecond, late, future])
        }))

      it('follows updates: a cancelled deletion is no longer due, a scheduled one is', () =>
        withStore(async (store) => {
          const now = 1_800_000_000_000
          const key = pendingKey({ deletionDate: now - 1 })
          const other = sampleKey()
          await store.createKey(key)
          await store.createKey(other)
          const { deletionDate: _d, pendingWindowInDays: _p, ...rest } = key
          await store.updateKey({ ...rest, keyState: 'Disabled', version: 2 })
          const scheduled: KeyRecord = { ...other, keyState: 'PendingDeletion', deletionDate: now, pendingWindowInDays: 7, version: 2 }
          await store.updateKey(scheduled)
          assert.deepEqual(await store.keysDueForDeletion(now, 10), [scheduled])
        }))

      it('returns nothing from an empty store', () =>
        withStore(async (store) => {
          assert.deepEqual(await store.keysDueForDeletion(Number.MAX_SAFE_INTEGER, 10), [])
        }))
    })

    describe('leases', () => {
      const T = 1_800_000_000_000

      it('is taken when free, and refused to another holder until it expires', () =>
        withStore(async (store) => {
          assert.equal(await store.acquireLease('deletion', 'node-a', T, 1000), true)
          assert.equal(await store.acquireLease('deletion', 'node-b', T, 1000), false)
          assert.equal(await store.acquireLease('deletion', 'node-b', T + 999, 1000), false)
          // The refused attempts did not take it over: node-a still holds it.
          assert.equal(await store.acquireLease('deletion', 'node-a', T + 999, 1000), true)
        }))

      it('goes to a new holder once expired, and the old holder then loses it', () =>
        withStore(async (store) => {
          assert.equal(await store.acquireLease('deletion', 'node-a', T, 1000), true)
          // Expires at exactly T + 1000.
          assert.equal(await store.acquireLease('deletion', 'node-b', T + 1000, 1000), true)
          assert.equal(await store.acquireLease('deletion', 'node-a', T + 1500, 1000), false)
          assert.equal(await store.acquireLease('deletion', 'node-b', T + 1500, 1000), true)
        }))

      it('is extended by its holder renewing it', () =>
        withStore(async (store) => {
          assert.equal(await store.acquireLease('deletion', 'node-a', T, 1000), true)
          assert.equal(await store.acquireLease('deletion', 'node-a', T + 500, 1000), true)
          assert.equal(await store.acquireLease('deletion', 'node-b', T + 1200, 1000), false)
          assert.equal(await store.acquireLease('deletion', 'node-b', T + 1499, 1000), false)
          assert.equal(await store.acquireLease('deletion', 'node-b', T + 1500, 1000), true)
        }))

      it('is freed by releaseLease only for its holder', () =>
        withStore(async (store) => {
          assert.equal(await store.acquireLease('deletion', 'node-a', T, 60_000), true)
          await store.releaseLease('deletion', 'node-b')
          assert.equal(await store.acquireLease('deletion', 'node-b', T + 1, 60_000), false)
          await store.releaseLease('deletion', 'node-a')
          assert.equal(await store.acquireLease('deletion', 'node-b', T + 2, 60_000), true)
          assert.equal(await store.acquireLease('deletion', 'node-a', T + 3, 60_000), false)
          await store.releaseLease('never-taken', 'node-a')
        }))

      it('keeps leases of different names apart', () =>
        withStore(async (store) => {
          assert.equal(await store.acquireLease('deletion', 'node-a', T, 1000), true)
          assert.equal(await store.acquireLease('rotation', 'node-b', T, 1000), true)
          assert.equal(await store.acquireLease('rotation', 'node-a', T, 1000), false)
          await store.releaseLease('rotation', 'node-b')
          assert.equal(await store.acquireLease('deletion', 'node-b', T, 1000), false)
        }))

      it('goes to exactly one of two concurrent takers', () =>
        withStore(async (store) => {
          const results = await Promise.all([
            store.acquireLease('deletion', 'node-a', T, 1000),
            store.acquireLease('deletion', 'node-b', T, 1000),
          ])
          assert.equal(results.filter(Boolean).length, 1)
        }))

      it('goes to exactly one of two connections, and stays with it', needsReopen, () =>
        withStore(async (store) => {
          const other = await reopen!(store)
          try {
            await other.migrate()
            const results = await Promise.all([
              store.acquireLease('deletion', 'node-a', T, 1000),
              other.acquireLease('deletion', 'node-b', T, 1000),
            ])
            assert.equal(results.filter(Boolean).length, 1)
            const [winner, loser] = results[0] ? ([store, other] as const) : ([other, store] as const)
            const [winnerName, loserName] = results[0] ? ['node-a', 'node-b'] : ['node-b', 'node-a']
            assert.equal(await loser.acquireLease('deletion', loserName, T + 1, 1000), false)
            assert.equal(await winner.acquireLease('deletion', winnerName, T + 1, 1000), true)
            await winner.releaseLease('deletion', winnerName)
            assert.equal(await loser.acquireLease('deletion', loserName, T + 2, 1000), true)
          } finally {
            await other.close()
          }
        }))
    })

    describe('aliases', () => {
      it('resolves an unknown alias to undefined', () =>
        withStore(async (store) => {
          await store.createKey(sampleKey())
          assert.equal(await store.getAliasTarget(ACCOUNT, REGION, 'alias/none'), undefined)
          assert.equal(await store.getAlias(ACCOUNT, REGION, 'alias/none'), undefined)
        }))

      it('creates an alias and reads it back', () =>
        withStore(async (store) => {
          const key = sampleKey()
          await store.createKey(key)
          const alias = sampleAlias(key, 'alias/app', { creationDate: 1_700_000_002_000, lastUpdatedDate: 1_700_000_003_000 })
          assert.equal(await store.createAlias(alias), true)
          assert.deepEqual(await store.getAlias(ACCOUNT, REGION, 'alias/app'), alias)
          assert.equal(await store.getAliasTarget(ACCOUNT, REGION, 'alias/app'), key.keyId)
        }))

      it('scopes names to an account and region, case-sensitively', () =>
        withStore(async (store) => {
          const key = sampleKey()
          const otherAccountKey = sampleKey({ accountId: OTHER_ACCOUNT })
          await store.createKey(key)
          await store.createKey(otherAccountKey)
          await store.createAlias(sampleAlias(key, 'alias/app'))
          assert.equal(await store.getAlias(OTHER_ACCOUNT, REGION, 'alias/app'), undefined)
          assert.equal(await store.getAlias(ACCOUNT, OTHER_REGION, 'alias/app'), undefined)
          assert.equal(await store.getAlias(ACCOUNT, REGION, 'alias/APP'), undefined)
          assert.equal(await store.createAlias(sampleAlias(otherAccountKey, 'alias/app')), true)
          assert.equal(await store.getAliasTarget(OTHER_ACCOUNT, REGION, 'alias/app'), otherAccountKey.keyId)
          assert.equal(await store.getAliasTarget(ACCOUNT, REGION, 'alias/app'), key.keyId)
        }))

      it('refuses an existing name and keeps the first alias', () =>
        withStore(async (store) => {
          const key = sampleKey()
          const other = sampleKey()
          await store.createKey(key)
          await store.createKey(other)
          const first = sampleAlias(key, 'alias/app')
          assert.equal(await store.createAlias(first), true)
          assert.equal(await store.createAlias(sampleAlias(other, 'alias/app', { creationDate: 1, lastUpdatedDate: 2 })), false)
          assert.equal(await store.createAlias(first), false)
          assert.deepEqual(await store.getAlias(ACCOUNT, REGION, 'alias/app'), first)
        }))

      it('refuses an alias of a key that does not exist with StoreConflictError, storing nothing', () =>
        withStore(async (store) => {
          const missing = sampleKey()
          await assert.rejects(store.createAlias(sampleAlias(missing, 'alias/app')), StoreConflictError)
          assert.equal(await store.getAlias(ACCOUNT, REGION, 'alias/app'), undefined)
          assert.deepEqual(await store.listAliases(ACCOUNT, REGION, { limit: 10 }), { aliases: [] })
        }))

      it('points an alias at another key, changing only the target and lastUpdatedDate', () =>
        withStore(async (store) => {
          const key = sampleKey()
          const next = sampleKey()
          await store.createKey(key)
          await store.createKey(next)
          const alias = sampleAlias(key, 'alias/app')
          await store.createAlias(alias)
          assert.equal(await store.updateAlias(ACCOUNT, REGION, 'alias/app', next.keyId, 1_700_000_009_000), true)
          assert.deepEqual(await store.getAlias(ACCOUNT, REGION, 'alias/app'), {
            ...alias,
            targetKeyId: next.keyId,
            lastUpdatedDate: 1_700_000_009_000,
          })
          assert.equal(await store.getAliasTarget(ACCOUNT, REGION, 'alias/app'), next.keyId)
          assert.deepEqual((await store.listAliases(ACCOUNT, REGION, { keyId: key.keyId, limit: 10 })).aliases, [])
        }))

      it('does not update or create an alias that does not exist', () =>
        withStore(async (store) => {
          const key = sampleKey()
          await store.createKey(key)
          await store.createAlias(sampleAlias(key, 'alias/app'))
          assert.equal(await store.updateAlias(ACCOUNT, REGION, 'alias/none', key.keyId, 1), false)
          assert.equal(await store.updateAlias(OTHER_ACCOUNT, REGION, 'alias/app', key.keyId, 1), false)
          assert.equal(await store.getAlias(ACCOUNT, REGION, 'alias/none'), undefined)
          assert.equal(await store.getAlias(OTHER_ACCOUNT, REGION, 'alias/app'), undefined)
          assert.deepEqual(await store.getAlias(ACCOUNT, REGION, 'alias/app'), sampleAlias(key, 'alias/app'))
        }))

      it('refuses to point an alias at a key that does not exist, keeping it unchanged', () =>
        withStore(async (store) => {
          const key = sampleKey()
          await store.createKey(key)
          const alias = sampleAlias(key, 'alias/app')
          await store.createAlias(alias)
          await assert.rejects(store.updateAlias(ACCOUNT, REGION, 'alias/app', randomUUID(), 1_700_000_009_000), StoreConflictError)
          assert.deepEqual(await store.getAlias(ACCOUNT, REGION, 'alias/app'), alias)
        }))

      it('deletes an alias once, leaving its key and same-named aliases elsewhere', () =>
        withStore(async (store) => {
          const key = sampleKey()
          const otherRegionKey = sampleKey({ region: OTHER_REGION })
          await store.createKey(key)
          await store.createKey(otherRegionKey)
          await store.createAlias(sampleAlias(key, 'alias/app'))
          await store.createAlias(sampleAlias(otherRegionKey, 'alias/app'))
          assert.equal(await store.deleteAlias(ACCOUNT, REGION, 'alias/app'), true)
          assert.equal(await store.deleteAlias(ACCOUNT, REGION, 'alias/app'), false)
          assert.equal(await store.deleteAlias(ACCOUNT, REGION, 'alias/none'), false)
          assert.equal(await store.getAlias(ACCOUNT, REGION, 'alias/app'), undefined)
          assert.equal(await store.getAliasTarget(ACCOUNT, REGION, 'alias/app'), undefined)
          assert.equal(await store.getAliasTarget(ACCOUNT, OTHER_REGION, 'alias/app'), otherRegionKey.keyId)
          assert.deepEqual(await store.getKey(key.keyId), key)
          assert.equal(await store.createAlias(sampleAlias(key, 'alias/app')), true)
        }))
    })

    describe('listAliases', () => {
      /** 25 aliases of 5 keys in ACCOUNT/REGION, created out of order, among aliases of other listings. */
      async function seed(store: Store): Promise<{ keys: KeyRecord[]; mine: AliasRecord[] }> {
        const keys: KeyRecord[] = []
        const mine: AliasRecord[] = []
        for (let k = 0; k < 5; k++) {
          const key = sampleKey()
          await store.createKey(key)
          keys.push(key)
        }
        const elsewhere = [sampleKey({ accountId: OTHER_ACCOUNT }), sampleKey({ region: OTHER_REGION })]
        for (const key of elsewhere) await store.createKey(key)
        for (let i = 24; i >= 0; i--) {
          const name = `alias/app-${String(i).padStart(2, '0')}`
          const alias = sampleAlias(keys[i % 5]!, name, { creationDate: 1_700_000_000_000 + i })
          await store.createAlias(alias)
          mine.push(alias)
          for (const key of elsewhere) await store.createAlias(sampleAlias(key, name))
        }
        mine.sort((a, b) => byBytes(a.aliasName, b.aliasName))
        return { keys, mine }
      }

      it('returns an empty page when there are none', () =>
        withStore(async (store) => {
          assert.deepEqual(await store.listAliases(ACCOUNT, REGION, { limit: 10 }), { aliases: [] })
          assert.deepEqual(await store.listAliases(ACCOUNT, REGION, { keyId: randomUUID(), limit: 10 }), { aliases: [] })
        }))

      it('orders names by their bytes, not by locale or case', () =>
        withStore(async (store) => {
          const key = sampleKey()
          await store.createKey(key)
          const names = ['alias/b', 'alias/B', 'alias/a_b', 'alias/a-b', 'alias/a/b', 'alias/aa', 'alias/a', 'alias/Z9', 'alias/0', 'alias/a0']
          for (const name of names) await store.createAlias(sampleAlias(key, name))
          const expected = [...names].sort(byBytes)
          assert.deepEqual(expected, ['alias/0', 'alias/B', 'alias/Z9', 'alias/a', 'alias/a-b', 'alias/a/b', 'alias/a0', 'alias/a_b', 'alias/aa', 'alias/b'])
          const all = await store.listAliases(ACCOUNT, REGION, { limit: 100 })
          assert.deepEqual(all.aliases.map((a) => a.aliasName), expected)
          const paged: string[] = []
          let marker: string | undefined
          do {
            const page = await store.listAliases(ACCOUNT, REGION, { limit: 3, ...(marker === undefined ? {} : { after: marker }) })
            paged.push(...page.aliases.map((a) => a.aliasName))
            marker = page.nextMarker
          } while (marker !== undefined)
          assert.deepEqual(paged, expected)
        }))

      it('pages through 25 aliases with limit 10, without gaps, duplicates or other listings', () =>
        withStore(async (store) => {
          const { mine } = await seed(store)
          const p1 = await store.listAliases(ACCOUNT, REGION, { limit: 10 })
          assert.equal(p1.aliases.length, 10)
          assert.equal(typeof p1.nextMarker, 'string')
          const p2 = await store.listAliases(ACCOUNT, REGION, { limit: 10, after: p1.nextMarker! })
          assert.equal(typeof p2.nextMarker, 'string')
          const p3 = await store.listAliases(ACCOUNT, REGION, { limit: 10, after: p2.nextMarker! })
          assert.equal(p3.aliases.length, 5)
          assert.equal('nextMarker' in p3, false)
          assert.deepEqual([...p1.aliases, ...p2.aliases, ...p3.aliases], mine)
        }))

      it('gives no marker when the last page is exactly full', () =>
        withStore(async (store) => {
          const { mine } = await seed(store)
          const p1 = await store.listAliases(ACCOUNT, REGION, { limit: 20 })
          const p2 = await store.listAliases(ACCOUNT, REGION, { limit: 5, after: p1.nextMarker! })
          assert.equal('nextMarker' in p2, false)
          assert.deepEqual([...p1.aliases, ...p2.aliases], mine)
          assert.deepEqual(await store.listAliases(ACCOUNT, REGION, { limit: 25 }), { aliases: mine })
        }))

      it('lists only the aliases of one key when asked, paging within them', () =>
        withStore(async (store) => {
          const { keys, mine } = await seed(store)
          const key = keys[2]!
          const expected = mine.filter((a) => a.targetKeyId === key.keyId)
          assert.equal(expected.length, 5)
          assert.deepEqual(await store.listAliases(ACCOUNT, REGION, { keyId: key.keyId, limit: 10 }), { aliases: expected })
          const p1 = await store.listAliases(ACCOUNT, REGION, { keyId: key.keyId, limit: 2 })
          const p2 = await store.listAliases(ACCOUNT, REGION, { keyId: key.keyId, limit: 2, after: p1.nextMarker! })
          const p3 = await store.listAliases(ACCOUNT, REGION, { keyId: key.keyId, limit: 2, after: p2.nextMarker! })
          assert.equal('nextMarker' in p3, false)
          assert.deepEqual([...p1.aliases, ...p2.aliases, ...p3.aliases], expected)
          // A key of this account listed in another region has none there.
          assert.deepEqual(await store.listAliases(ACCOUNT, OTHER_REGION, { keyId: key.keyId, limit: 10 }), { aliases: [] })
        }))

      it('continues after the marker even if the alias it names was deleted or a new one was added', () =>
        withStore(async (store) => {
          const { keys, mine } = await seed(store)
          const p1 = await store.listAliases(ACCOUNT, REGION, { limit: 10 })
          const lastOfPage = p1.aliases.at(-1)!
          assert.equal(await store.deleteAlias(ACCOUNT, REGION, lastOfPage.aliasName), true)
          const added = sampleAlias(keys[0]!, `${lastOfPage.aliasName}-new`)
          await store.createAlias(added)
          const before = sampleAlias(keys[0]!, 'alias/aaa-before-everything')
          await store.createAlias(before)
          const rest = await store.listAliases(ACCOUNT, REGION, { limit: 100, after: p1.nextMarker! })
          assert.deepEqual(rest.aliases, [added, ...mine.slice(10)])
        }))

      it('refuses markers it did not issue with InvalidMarkerException', () =>
        withStore(async (store) => {
          const { keys } = await seed(store)
          const { nextMarker } = await store.listAliases(ACCOUNT, REGION, { limit: 2 })
          assert.ok(nextMarker)
          for (const marker of tamperedMarkers(nextMarker)) {
            await assert.rejects(store.listAliases(ACCOUNT, REGION, { limit: 2, after: marker }), assertInvalidMarker, `marker ${JSON.stringify(marker)}`)
          }
          const byKey = await store.listAliases(ACCOUNT, REGION, { keyId: keys[0]!.keyId, limit: 2 })
          assert.ok(byKey.nextMarker)
          for (const marker of tamperedMarkers(byKey.nextMarker)) {
            await assert.rejects(
              store.listAliases(ACCOUNT, REGION, { keyId: keys[0]!.keyId, limit: 2, after: marker }),
              assertInvalidMarker,
              `marker ${JSON.stringify(marker)}`,
            )
          }
        }))

      it('refuses a marker of another account, region or key filter', () =>
        withStore(async (store) => {
          const { keys } = await seed(store)
          const all = (await store.listAliases(ACCOUNT, REGION, { limit: 2 })).nextMarker
          const ofKey = (await store.listAliases(ACCOUNT, REGION, { keyId: keys[0]!.keyId, limit: 2 })).nextMarker
          assert.ok(all && ofKey)
          await assert.rejects(store.listAliases(OTHER_ACCOUNT, REGION, { limit: 2, after: all }), assertInvalidMarker)
          await assert.rejects(store.listAliases(ACCOUNT, OTHER_REGION, { limit: 2, after: all }), assertInvalidMarker)
          await assert.rejects(store.listAliases(ACCOUNT, REGION, { keyId: keys[0]!.keyId, limit: 2, after: all }), assertInvalidMarker)
          await assert.rejects(store.listAliases(ACCOUNT, REGION, { limit: 2, after: ofKey }), assertInvalidMarker)
          await assert.rejects(store.listAliases(ACCOUNT, REGION, { keyId: keys[1]!.keyId, limit: 2, after: ofKey }), assertInvalidMarker)
          await assert.rejects(store.listAliases(OTHER_ACCOUNT, REGION, { keyId: keys[0]!.keyId, limit: 2, after: ofKey }), assertInvalidMarker)
        }))

      it('refuses a listKeys marker, and listKeys refuses a listAliases marker', () =>
        withStore(async (store) => {
          const { keys } = await seed(store)
          const keyMarker = (await store.listKeys(ACCOUNT, REGION, 2)).nextMarker
          const aliasMarker = (await store.listAliases(ACCOUNT, REGION, { limit: 2 })).nextMarker
          const keyAliasMarker = (await store.listAliases(ACCOUNT, REGION, { keyId: keys[0]!.keyId, limit: 2 })).nextMarker
          assert.ok(keyMarker && aliasMarker && keyAliasMarker)
          await assert.rejects(store.listAliases(ACCOUNT, REGION, { limit: 2, after: keyMarker }), assertInvalidMarker)
          await assert.rejects(store.listAliases(ACCOUNT, REGION, { keyId: keys[0]!.keyId, limit: 2, after: keyMarker }), assertInvalidMarker)
          await assert.rejects(store.listKeys(ACCOUNT, REGION, 2, aliasMarker), assertInvalidMarker)
          await assert.rejects(store.listKeys(ACCOUNT, REGION, 2, keyAliasMarker), assertInvalidMarker)
        }))

      it('accepts the same marker more than once', () =>
        withStore(async (store) => {
          await seed(store)
          const { nextMarker } = await store.listAliases(ACCOUNT, REGION, { limit: 2 })
          assert.ok(nextMarker)
          const again = () => store.listAliases(ACCOUNT, REGION, { limit: 2, after: nextMarker })
          assert.deepEqual(await again(), await again())
        }))
    })

    describe('credentials', () => {
      it('round-trips a credential byte for byte', () =>
        withStore(async (store) => {
          const credential = sampleCredential({ wrappedSecret: bytes(256, 0) })
          assert.equal(await store.putCredential(credential), true)
          const got = await store.getCredential(credential.accessKeyId)
          assert.deepEqual(got, credential)
          assert.ok(isPlainOwnedBytes(got?.wrappedSecret))
        }))

      it('refuses to overwrite an existing access key id', () =>
        withStore(async (store) => {
          const credential = sampleCredential()
          assert.equal(await store.putCredential(credential), true)
          assert.equal(await store.putCredential({ ...credential, accountId: OTHER_ACCOUNT, wrappedSecret: bytes(80, 8) }), false)
          assert.deepEqual(await store.getCredential(credential.accessKeyId), credential)
        }))

      it('returns undefined for an unknown access key id', () =>
        withStore(async (store) => {
          await store.putCredential(sampleCredential())
          assert.equal(await store.getCredential('AKIATRENTEXAMPLE9999'), undefined)
        }))
    })

    describe('iam users', () => {
      const user = (name: string, n = 1) => ({
        accountId: ACCOUNT,
        userName: name,
        userId: `AIDATRENTEXAMPLE000${n}`,
        arn: `arn:aws:iam::${ACCOUNT}:user/${name}`,
        path: '/',
        createdAt: 1_700_000_000_000 + n,
      })

      it('creates, reads, lists in name order and refuses duplicates', () =>
        withStore(async (store) => {
          assert.equal(await store.createUser(user('bob', 2)), true)
          assert.equal(await store.createUser(user('alice', 1)), true)
          assert.equal(await store.createUser({ ...user('alice', 3) }), false)
          assert.equal(await store.createUser({ ...user('carol', 1) }), false, 'user id is unique')
          assert.deepEqual(await store.getUser(ACCOUNT, 'alice'), user('alice', 1))
          assert.equal(await store.getUser(OTHER_ACCOUNT, 'alice'), undefined)
          assert.deepEqual((await store.listUsers(ACCOUNT)).map((u) => u.userName), ['alice', 'bob'])
          assert.deepEqual(await store.listUsers(OTHER_ACCOUNT), [])
        }))

      it('keeps a user\'s tags from creation and replaces them', () =>
        withStore(async (store) => {
          const tagged = { ...user('tina', 7), tags: [{ Key: 'team', Value: 'blue' }, { Key: 'cost-center', Value: '' }] }
          await store.createUser(tagged)
          assert.deepEqual(await store.getUser(ACCOUNT, 'tina'), tagged)
          assert.equal(await store.updateUserTags(ACCOUNT, 'tina', [{ Key: 'team', Value: 'red' }]), true)
          assert.deepEqual((await store.getUser(ACCOUNT, 'tina'))?.tags, [{ Key: 'team', Value: 'red' }])
          assert.equal(await store.updateUserTags(ACCOUNT, 'tina', []), true)
          assert.deepEqual(await store.getUser(ACCOUNT, 'tina'), user('tina', 7), 'no tags: no tags member')
          assert.equal(await store.updateUserTags(ACCOUNT, 'nobody', []), false)
        }))

      it('keeps inline policies per user, replacing by name', () =>
        withStore(async (store) => {
          assert.equal(await store.putUserPolicy({ accountId: ACCOUNT, userName: 'alice', policyName: 'p', document: '{}' }), false)
          await store.createUser(user('alice'))
          const p = { accountId: ACCOUNT, userName: 'alice', policyName: 'p', document: '{"Version":"2012-10-17"}' }
          assert.equal(await store.putUserPolicy(p), true)
          assert.equal(await store.putUserPolicy({ ...p, document: '{"a":1}' }), true)
          await store.putUserPolicy({ ...p, policyName: 'a' })
          assert.deepEqual(await store.getUserPolicy(ACCOUNT, 'alice', 'p'), { ...p, document: '{"a":1}' })
          assert.deepEqual((await store.listUserPolicies(ACCOUNT, 'alice')).map((x) => x.policyName), ['a', 'p'])
          assert.equal(await store.deleteUserPolicy(ACCOUNT, 'alice', 'p'), true)
          assert.equal(await store.deleteUserPolicy(ACCOUNT, 'alice', 'p'), false)
          assert.equal(await store.getUserPolicy(ACCOUNT, 'alice', 'p'), undefined)
        }))

      it('ties access keys to a user and deletes a user only once it has none and no policies', () =>
        withStore(async (store) => {
          const key = sampleCredential({ principalArn: user('alice').arn, userName: 'alice' })
          assert.equal(await store.putCredential(key), false, 'no such user')
          await store.createUser(user('alice'))
          assert.equal(await store.putCredential(key), true)
          await store.putCredential(sampleCredential({ accessKeyId: 'AKIATRENTEXAMPLE0002' }))
          assert.deepEqual(await store.getCredential(key.accessKeyId), key)
          assert.deepEqual(await store.listUserCredentials(ACCOUNT, 'alice'), [key])
          await store.putUserPolicy({ accountId: ACCOUNT, userName: 'alice', policyName: 'p', document: '{}' })
          assert.equal(await store.deleteUser(ACCOUNT, 'alice'), 'conflict')
          assert.equal(await store.deleteCredential(key.accessKeyId), true)
          assert.equal(await store.deleteCredential(key.accessKeyId), false)
          assert.equal(await store.deleteUser(ACCOUNT, 'alice'), 'conflict')
          await store.deleteUserPolicy(ACCOUNT, 'alice', 'p')
          assert.equal(await store.deleteUser(ACCOUNT, 'alice'), 'deleted')
          assert.equal(await store.deleteUser(ACCOUNT, 'alice'), 'missing')
          assert.equal(await store.getUser(ACCOUNT, 'alice'), undefined)
          assert.ok(await store.getCredential('AKIATRENTEXAMPLE0002'))
        }))

      it('never leaves an access key behind when a user is deleted while a key is added', () =>
        withStore(async (store) => {
          for (let i = 0; i < 10; i++) {
            await store.createUser(user('racer', 5))
            const key = sampleCredential({ accessKeyId: `AKIATRENTRACE${String(i).padStart(7, '0')}`, principalArn: user('racer').arn, userName: 'racer' })
            const [added, deleted] = await Promise.all([store.putCredential(key), store.deleteUser(ACCOUNT, 'racer')])
            if (deleted === 'deleted') {
              assert.deepEqual(await store.listUserCredentials(ACCOUNT, 'racer'), [])
              assert.equal(added, false)
            } else {
              assert.equal(deleted, 'conflict')
              assert.equal(added, true)
              await store.deleteCredential(key.accessKeyId)
              assert.equal(await store.deleteUser(ACCOUNT, 'racer'), 'deleted')
            }
          }
        }))
    })

    describe('iam roles and role sessions', () => {
      const role = (name: string, n = 1) => ({
        accountId: ACCOUNT,
        roleName: name,
        roleId: `AROATRENTEXAMPLE000${n}`,
        arn: `arn:aws:iam::${ACCOUNT}:role/${name}`,
        path: '/',
        trustPolicy: '{"Version":"2012-10-17","Statement":[]}',
        createdAt: 1_700_000_000_000 + n,
        maxSessionDuration: 3600,
      })
      const session = (id: string, roleName = 'app', n = 1) => ({
        accessKeyId: id,
        accountId: ACCOUNT,
        roleName,
        roleId: `AROATRENTEXAMPLE000${n}`,
        sessionName: 'worker-1',
        wrappedSecret: new Uint8Array([1, 2, 3, 250]),
        tokenHash: new Uint8Array(32).fill(7),
        createdAt: 1_700_000_000_000,
        expiresAt: 1_700_000_900_000,
      })

      it('creates and reads roles, refusing duplicate names and ids', () =>
        withStore(async (store) => {
          assert.equal(await store.createRole(role('app', 1)), true)
          assert.equal(await store.createRole(role('app', 2)), false)
          assert.equal(await store.createRole(role('other', 1)), false, 'role id is unique')
          assert.deepEqual(await store.getRole(ACCOUNT, 'app'), role('app', 1))
          assert.equal(await store.getRole(OTHER_ACCOUNT, 'app'), undefined)
        }))

      it('keeps inline policies per role and deletes a role only once it has none', () =>
        withStore(async (store) => {
          const p = { accountId: ACCOUNT, roleName: 'app', policyName: 'p', document: '{"Version":"2012-10-17"}' }
          assert.equal(await store.putRolePolicy(p), false, 'no such role')
          await store.createRole(role('app'))
          assert.equal(await store.putRolePolicy(p), true)
          assert.equal(await store.putRolePolicy({ ...p, document: '{"a":1}' }), true)
          await store.putRolePolicy({ ...p, policyName: 'a' })
          assert.deepEqual(await store.getRolePolicy(ACCOUNT, 'app', 'p'), { ...p, document: '{"a":1}' })
          assert.deepEqual((await store.listRolePolicies(ACCOUNT, 'app')).map((x) => x.policyName), ['a', 'p'])
          assert.equal(await store.deleteRole(ACCOUNT, 'app'), 'conflict')
          assert.equal(await store.deleteRolePolicy(ACCOUNT, 'app', 'p'), true)
          assert.equal(await store.deleteRolePolicy(ACCOUNT, 'app', 'p'), false)
          assert.equal(await store.getRolePolicy(ACCOUNT, 'app', 'p'), undefined)
          await store.deleteRolePolicy(ACCOUNT, 'app', 'a')
          assert.equal(await store.deleteRole(ACCOUNT, 'app'), 'deleted')
          assert.equal(await store.deleteRole(ACCOUNT, 'app'), 'missing')
          assert.equal(await store.getRole(ACCOUNT, 'app'), undefined)
        }))

      it('stores sessions of existing roles only, and drops them with their role', () =>
        withStore(async (store) => {
          assert.equal(await store.putRoleSession(session('ASIATRENTEXAMPLE0001')), false, 'no such role')
          await store.createRole(role('app'))
          assert.equal(await store.putRoleSession(session('ASIATRENTEXAMPLE0001')), true)
          assert.equal(await store.putRoleSession(session('ASIATRENTEXAMPLE0001')), false, 'access key id is unique')
          assert.deepEqual(await store.getRoleSession('ASIATRENTEXAMPLE0001'), session('ASIATRENTEXAMPLE0001'))
          assert.equal(await store.getRoleSession('ASIATRENTEXAMPLE0002'), undefined)
          assert.deepEqual(await store.listRoleSessionIds(ACCOUNT, 'app'), ['ASIATRENTEXAMPLE0001'])
          assert.deepEqual(await store.listRoleSessionIds(OTHER_ACCOUNT, 'app'), [])
          assert.equal(await store.deleteRole(ACCOUNT, 'app'), 'deleted')
          assert.equal(await store.getRoleSession('ASIATRENTEXAMPLE0001'), undefined)
          assert.deepEqual(await store.listRoleSessionIds(ACCOUNT, 'app'), [])
        }))

      it('keeps a session policy and session tags with their session', () =>
        withStore(async (store) => {
          await store.createRole(role('app'))
          const withPolicy = { ...session('ASIATRENTEXAMPLE0003'), sessionPolicy: '{"Version":"2012-10-17","Statement":[]}' }
          assert.equal(await store.putRoleSession(withPolicy), true)
          assert.deepEqual(await store.getRoleSession('ASIATRENTEXAMPLE0003'), withPolicy)
          const withTags = { ...session('ASIATRENTEXAMPLE0004'), sessionTags: [{ Key: 'team', Value: 'blue' }] }
          assert.equal(await store.putRoleSession(withTags), true)
          assert.deepEqual(await store.getRoleSession('ASIATRENTEXAMPLE0004'), withTags)
        }))

      it('lists roles by name and updates their trust policy, description and MaxSessionDuration', () =>
        withStore(async (store) => {
          await store.createRole(role('b', 1))
          await store.createRole({ ...role('a', 2), description: 'first' })
          await store.createRole(role('c', 3))
          await store.createRole({ ...role('x', 4), accountId: OTHER_ACCOUNT })
          assert.deepEqual((await store.listRoles(ACCOUNT)).map((r) => r.roleName), ['a', 'b', 'c'])
          assert.equal((await store.getRole(ACCOUNT, 'a'))?.description, 'first')
          const updated = { ...role('b', 1), trustPolicy: '{"Version":"2012-10-17","Statement":[{}]}', maxSessionDuration: 43200, description: 'second' }
          assert.equal(await store.updateRole(updated), true)
          assert.deepEqual(await store.getRole(ACCOUNT, 'b'), updated)
          const { description: _, ...cleared } = updated
          assert.equal(await store.updateRole(cleared), true)
          assert.deepEqual(await store.getRole(ACCOUNT, 'b'), cleared)
          assert.equal(await store.updateRole({ ...updated, roleId: 'AROATRENTEXAMPLE0009' }), false, 'a role of that name created anew is not the one updated')
          assert.equal(await store.updateRole(role('nobody', 5)), false)
          const tagged = { ...role('c', 3), tags: [{ Key: 'project', Value: 'atlas' }] }
          assert.equal(await store.updateRole(tagged), true)
          assert.deepEqual(await store.getRole(ACCOUNT, 'c'), tagged)
          await store.createRole({ ...role('d', 6), tags: [{ Key: 'k', Value: 'v' }] })
          assert.deepEqual((await store.getRole(ACCOUNT, 'd'))?.tags, [{ Key: 'k', Value: 'v' }])
        }))
    })

    describe('persistence', () => {
      it('keeps everything across close and reopen', needsReopen, async () => {
        const store = await makeStore()
        await store.migrate()
        const sealed = bytes(200, 30)
        const key = sampleKey({ currentKeyMaterialId: hex64(3), tags: [{ TagKey: 'k', TagValue: 'v' }] })
        const material = sampleMaterial(key.keyId, 3)
        const credential = sampleCredential()
        await store.initSealedDomain(sealed)
        await store.createKey(key, material)
        await store.updateKey({ ...key, description: 'updated', version: 2 })
        await store.putCredential(credential)
        const extra = [sampleKey(), sampleKey(), sampleKey()]
        for (const k of extra) await store.createKey(k)
        const { nextMarker } = await store.listKeys(ACCOUNT, REGION, 2)
        const aliases = ['alias/a', 'alias/b', 'alias/c'].map((name) => sampleAlias(key, name))
        for (const a of aliases) await store.createAlias(a)
        const aliasMarker = (await store.listAliases(ACCOUNT, REGION, { keyId: key.keyId, limit: 1 })).nextMarker
        assert.ok(aliasMarker)
        assert.equal(await store.acquireLease('deletion', 'node-a', 1_800_000_000_000, 60_000), true)
        await store.close()

        const reopened = await reopen!(store)
        try {
          await reopened.migrate()
          assert.deepEqual(await reopened.getSealedDomain(), sealed)
          assert.equal(await reopened.initSealedDomain(bytes(200, 31)), false)
          assert.deepEqual(await reopened.getKey(key.keyId), { ...key, description: 'updated', version: 2 })
          assert.deepEqual(await reopened.getKeyMaterial(key.keyId, material.keyMaterialId), material)
          assert.deepEqual(await reopened.getCredential(credential.accessKeyId), credential)
          const rest = await reopened.listKeys(ACCOUNT, REGION, 10, nextMarker)
          assert.deepEqual(rest.keys.map((k) => k.keyId), extra.slice(1).map((k) => k.keyId))
          await assert.rejects(reopened.updateKey({ ...key, version: 2 }), StoreConflictError)
          assert.deepEqual(await reopened.getAlias(ACCOUNT, REGION, 'alias/a'), aliases[0])
          const restOfAliases = await reopened.listAliases(ACCOUNT, REGION, { keyId: key.keyId, limit: 10, after: aliasMarker })
          assert.deepEqual(restOfAliases, { aliases: aliases.slice(1) })
          assert.equal(await reopened.acquireLease('deletion', 'node-b', 1_800_000_000_001, 60_000), false)
          assert.equal(await reopened.acquireLease('deletion', 'node-a', 1_800_000_000_001, 60_000), true)
        } finally {
          await reopened.close()
        }
      })
    })
  })
}
