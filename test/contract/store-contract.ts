import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import { isKmsError } from '../../src/core/errors.js'
import {
  StoreConflictError,
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
          const flipped = (i: number) =>
            nextMarker.slice(0, i) + (nextMarker[i] === 'A' ? 'B' : 'A') + nextMarker.slice(i + 1)
          const bad = [
            '',
            'garbage',
            '!!!!',
            'null',
            '0',
            '1',
            `${nextMarker}A`,
            `${nextMarker}${nextMarker}`,
            nextMarker.slice(0, -1),
            nextMarker.slice(1),
            flipped(0),
            flipped(Math.floor(nextMarker.length / 2)),
            flipped(nextMarker.length - 1),
            ` ${nextMarker}`,
            nextMarker.toUpperCase() === nextMarker ? nextMarker.toLowerCase() : nextMarker.toUpperCase(),
          ].filter((m) => m !== nextMarker)
          for (const marker of bad) {
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

    describe('aliases', () => {
      it('resolves an unknown alias to undefined', () =>
        withStore(async (store) => {
          await store.createKey(sampleKey())
          assert.equal(await store.getAliasTarget(ACCOUNT, REGION, 'alias/none'), undefined)
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
        } finally {
          await reopened.close()
        }
      })
    })
  })
}
