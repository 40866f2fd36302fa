import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { isKmsError } from '../../src/core/errors.js'
import { StoreConflictError, type GrantRecord, type KeyRecord, type Store } from '../../src/store/store.js'
import { sampleKey } from './store-contract.js'

const ACCOUNT = '111122223333'
const REGION = 'eu-west-1'
const GRANTEE = `arn:aws:iam::${ACCOUNT}:role/app`
const RETIRER = `arn:aws:iam::${ACCOUNT}:role/ops`

let seed = 0
function sampleGrant(key: KeyRecord, overrides: Partial<GrantRecord> = {}): GrantRecord {
  seed++
  return {
    grantId: randomBytes(32).toString('hex'),
    keyId: key.keyId,
    granteePrincipal: GRANTEE,
    operations: ['Decrypt', 'Encrypt'],
    issuingAccount: `arn:aws:iam::${key.accountId}:root`,
    creationDate: 1_700_000_000_000 + seed,
    ...overrides,
  }
}
const token = (): string => randomBytes(32).toString('base64url')

function assertInvalidMarker(e: unknown): true {
  assert.ok(isKmsError(e) && e.code === 'InvalidMarkerException', String(e))
  return true
}

/** Grant cases of the store contract; `withStore` gives a migrated, empty store. */
export function grantContract(withStore: (body: (store: Store) => Promise<void>) => Promise<void>): void {
  describe('grants', () => {
    it('creates, reads, counts and deletes grants with their tokens', () =>
      withStore(async (store) => {
        const key = sampleKey()
        await store.createKey(key)
        const grant = sampleGrant(key, {
          name: 'app',
          retiringPrincipal: RETIRER,
          constraints: { EncryptionContextEquals: { a: '1', b: '2' } },
        })
        const t1 = token()
        assert.deepEqual(await store.createGrant(grant, t1), grant)
        assert.deepEqual(await store.getGrant(grant.grantId), grant)
        assert.deepEqual(await store.grantByToken(t1), grant)
        assert.equal(await store.grantByToken(token()), undefined)
        assert.equal(await store.countGrants(key.keyId), 1)
        const plain = sampleGrant(key)
        assert.deepEqual(await store.createGrant(plain, token()), plain)
        assert.deepEqual(await store.getGrant(plain.grantId), plain)
        assert.equal(await store.countGrants(key.keyId), 2)
        assert.equal(await store.deleteGrant(grant.grantId), true)
        assert.equal(await store.deleteGrant(grant.grantId), false)
        assert.equal(await store.getGrant(grant.grantId), undefined)
        assert.equal(await store.grantByToken(t1), undefined)
        assert.equal(await store.countGrants(key.keyId), 1)
      }))

    it('returns the existing grant for the same name and parameters, and records the new token for it', () =>
      withStore(async (store) => {
        const key = sampleKey()
        await store.createKey(key)
        const first = sampleGrant(key, { name: 'n', retiringPrincipal: RETIRER })
        const t1 = token()
        const t2 = token()
        await store.createGrant(first, t1)
        const again = await store.createGrant(sampleGrant(key, { name: 'n', retiringPrincipal: RETIRER, creationDate: first.creationDate + 5 }), t2)
        assert.deepEqual(again, first)
        assert.equal((await store.grantByToken(t2))?.grantId, first.grantId)
        assert.equal((await store.grantByToken(t1))?.grantId, first.grantId)
        assert.equal(await store.countGrants(key.keyId), 1)
        // Same name, other parameters: a new grant.
        for (const overrides of [
          { operations: ['Decrypt'] },
          { retiringPrincipal: GRANTEE },
          { granteePrincipal: RETIRER, retiringPrincipal: RETIRER },
          { retiringPrincipal: RETIRER, constraints: { EncryptionContextSubset: { a: '1' } } },
        ] as Array<Partial<GrantRecord>>) {
          const other = sampleGrant(key, { name: 'n', ...overrides })
          assert.deepEqual(await store.createGrant(other, token()), other)
        }
        // Without a name there is no idempotency.
        const unnamed = sampleGrant(key)
        await store.createGrant(unnamed, token())
        const unnamed2 = { ...unnamed, grantId: randomBytes(32).toString('hex') }
        assert.deepEqual(await store.createGrant(unnamed2, token()), unnamed2)
        assert.equal(await store.countGrants(key.keyId), 7)
      }))

    it('refuses a grant on a key that does not exist', () =>
      withStore(async (store) => {
        await assert.rejects(store.createGrant(sampleGrant(sampleKey()), token()), StoreConflictError)
      }))

    it('lists a key\'s grants in creation order, page by page, with filters', () =>
      withStore(async (store) => {
        const key = sampleKey()
        const other = sampleKey()
        await store.createKey(key)
        await store.createKey(other)
        const grants: GrantRecord[] = []
        for (let i = 0; i < 5; i++) {
          const g = sampleGrant(key, i % 2 === 0 ? {} : { granteePrincipal: RETIRER })
          await store.createGrant(g, token())
          grants.push(g)
        }
        await store.createGrant(sampleGrant(other), token())
        const first = await store.listGrants(key.keyId, { limit: 2 })
        assert.deepEqual(first.grants, grants.slice(0, 2))
        assert.ok(first.nextMarker)
        const second = await store.listGrants(key.keyId, { limit: 2, after: first.nextMarker })
        assert.deepEqual(second.grants, grants.slice(2, 4))
        const third = await store.listGrants(key.keyId, { limit: 2, after: second.nextMarker! })
        assert.deepEqual(third, { grants: grants.slice(4) })
        assert.deepEqual(await store.listGrants(key.keyId, { limit: 10 }), { grants })
        assert.deepEqual(await store.listGrants(key.keyId, { limit: 10, grantId: grants[3]!.grantId }), { grants: [grants[3]] })
        assert.deepEqual(await store.listGrants(key.keyId, { limit: 10, grantId: 'f'.repeat(64) }), { grants: [] })
        const byGrantee = await store.listGrants(key.keyId, { limit: 1, granteePrincipal: RETIRER })
        assert.deepEqual(byGrantee.grants, [grants[1]])
        assert.deepEqual(await store.listGrants(key.keyId, { limit: 1, granteePrincipal: RETIRER, after: byGrantee.nextMarker! }), { grants: [grants[3]] })
        // A marker of another listing or key is refused.
        await assert.rejects(store.listGrants(key.keyId, { limit: 2, after: byGrantee.nextMarker! }), assertInvalidMarker)
        await assert.rejects(store.listGrants(other.keyId, { limit: 2, after: first.nextMarker! }), assertInvalidMarker)
        await assert.rejects(store.listGrants(key.keyId, { limit: 2, after: 'garbage' }), assertInvalidMarker)
      }))

    it('lists retirable grants of one account and region', () =>
      withStore(async (store) => {
        const a = sampleKey()
        const b = sampleKey()
        const elsewhere = sampleKey({ accountId: '444455556666' })
        for (const k of [a, b, elsewhere]) await store.createKey(k)
        const g1 = sampleGrant(a, { retiringPrincipal: RETIRER })
        const g2 = sampleGrant(b, { retiringPrincipal: RETIRER })
        const g3 = sampleGrant(a, { retiringPrincipal: GRANTEE })
        const g4 = sampleGrant(elsewhere, { retiringPrincipal: RETIRER })
        for (const g of [g1, g2, g3, g4, sampleGrant(a)]) await store.createGrant(g, token())
        const page = await store.listRetirableGrants(ACCOUNT, REGION, RETIRER, { limit: 1 })
        assert.deepEqual(page.grants, [g1])
        assert.deepEqual(await store.listRetirableGrants(ACCOUNT, REGION, RETIRER, { limit: 1, after: page.nextMarker! }), { grants: [g2] })
        assert.deepEqual(await store.listRetirableGrants('444455556666', REGION, RETIRER, { limit: 5 }), { grants: [g4] })
        assert.deepEqual(await store.listRetirableGrants(ACCOUNT, 'us-east-1', RETIRER, { limit: 5 }), { grants: [] })
        await assert.rejects(store.listRetirableGrants(ACCOUNT, REGION, GRANTEE, { limit: 1, after: page.nextMarker! }), assertInvalidMarker)
      }))

    it('deletes a key\'s grants and tokens with the key', () =>
      withStore(async (store) => {
        const key = sampleKey({ keyState: 'PendingDeletion', deletionDate: 1_800_000_000_000, pendingWindowInDays: 7 })
        await store.createKey(key)
        const g = sampleGrant(key)
        const t = token()
        await store.createGrant(g, t)
        assert.equal(await store.deleteKey(key), true)
        assert.equal(await store.getGrant(g.grantId), undefined)
        assert.equal(await store.grantByToken(t), undefined)
        assert.equal(await store.countGrants(key.keyId), 0)
      }))
  })
}
