import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { isKmsError } from '../core/errors.js'
import type { Hsm } from '../hsm/hsm.js'
import { CachedStore } from '../store/cached-store.js'
import { SqliteStore } from '../store/sqlite/sqlite-store.js'
import type { KeyRecord, Store } from '../store/store.js'
import type { Caller, ServiceDeps } from './deps.js'
import { canonicalConstraints, checkGrantRequest, checkGrantTokens, MAX_GRANTS_PER_KEY, newGrantToken } from './grants.js'
import { createGrant } from './operations/create-grant.js'
import { retireGrant } from './operations/retire-grant.js'
import { authorize } from './authorize.js'

const ACCOUNT = '111122223333'
const REGION = 'us-east-1'
const ROOT = `arn:aws:iam::${ACCOUNT}:root`
const caller: Caller = { accountId: ACCOUNT, principalArn: ROOT, accessKeyId: 'AKIAEXAMPLE' }

function key(overrides: Partial<KeyRecord> = {}): KeyRecord {
  const keyId = randomUUID()
  return {
    keyId,
    arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`,
    accountId: ACCOUNT,
    region: REGION,
    creationDate: 1_700_000_000_000,
    description: '',
    keyUsage: 'ENCRYPT_DECRYPT',
    keySpec: 'SYMMETRIC_DEFAULT',
    origin: 'AWS_KMS',
    keyState: 'Enabled',
    keyManager: 'CUSTOMER',
    multiRegion: false,
    policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:CreateGrant', Resource: '*' }] }),
    tags: [],
    version: 1,
    ...overrides,
  }
}

async function setup(wrap: (s: Store) => Store = (s) => s) {
  const backend = new SqliteStore(new Database(':memory:'))
  await backend.migrate()
  let listReads = 0
  const counting = new Proxy(backend, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown
      if (prop === 'listGrants') return (...args: Parameters<Store['listGrants']>) => (listReads++, target.listGrants(...args))
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  const store = wrap(counting)
  const deps: ServiceDeps = { store, hsm: {} as Hsm, clock: { now: () => 1_800_000_000_000 }, region: REGION, partition: 'aws' }
  return { deps, store, reads: () => listReads }
}

const code = (name: string) => (e: unknown) => {
  assert.ok(isKmsError(e) && e.code === name, String(e))
  return true
}

describe('grants in the service', () => {
  it('CreateGrant refuses a key with 50,000 grants (LimitExceededException)', async () => {
    const { deps } = await setup((s) => new Proxy(s, { get: (t, p, r) => (p === 'countGrants' ? async () => MAX_GRANTS_PER_KEY : Reflect.get(t, p, r)) }))
    const k = key()
    await deps.store.createKey(k)
    await assert.rejects(createGrant.run(deps, caller, { KeyId: k.keyId, GranteePrincipal: ROOT, Operations: ['Encrypt'] }), code('LimitExceededException'))
  })

  it('authorisation reads no grants when the key policy allows, and a cached list otherwise', async () => {
    const { deps, reads } = await setup((s) => new CachedStore(s, { clock: { now: () => 1 }, ttlMs: 60_000 }))
    const k = key()
    await deps.store.createKey(k)
    await authorize(deps, caller, k, 'kms:CreateGrant')
    assert.equal(reads(), 0)
    await assert.rejects(authorize(deps, caller, k, 'kms:Encrypt'), code('AccessDeniedException'))
    await assert.rejects(authorize(deps, caller, k, 'kms:Encrypt'), code('AccessDeniedException'))
    assert.equal(reads(), 1)
    // A new grant is seen at once: CreateGrant drops the cached list.
    await createGrant.run(deps, caller, { KeyId: k.keyId, GranteePrincipal: ROOT, Operations: ['Encrypt'] })
    await authorize(deps, caller, k, 'kms:Encrypt')
    await authorize(deps, caller, k, 'kms:Encrypt')
    assert.equal(reads(), 2)
    const { grants } = await deps.store.listGrants(k.keyId, { limit: 10 })
    await deps.store.deleteGrant(grants[0]!.grantId)
    await assert.rejects(authorize(deps, caller, k, 'kms:Encrypt'), code('AccessDeniedException'))
  })

  it('RetireGrant from another account needs the retiring principal, the grantee with RetireGrant, or kms:RetireGrant', async () => {
    const { deps } = await setup()
    const k = key()
    await deps.store.createKey(k)
    const other: Caller = { accountId: '444455556666', principalArn: 'arn:aws:iam::444455556666:root', accessKeyId: 'AKIAOTHER' }
    type Created = { GrantId: string; GrantToken: string }
    const make = async (more: object) => (await createGrant.run(deps, caller, { KeyId: k.keyId, GranteePrincipal: ROOT, Operations: ['Encrypt'], ...more })) as Created
    const plain = await make({})
    await assert.rejects(retireGrant.run(deps, other, { KeyId: k.arn, GrantId: plain.GrantId }), code('AccessDeniedException'))
    await assert.rejects(retireGrant.run(deps, other, { GrantToken: plain.GrantToken }), code('AccessDeniedException'))
    const retirable = await make({ RetiringPrincipal: '444455556666' })
    await retireGrant.run(deps, other, { KeyId: k.arn, GrantId: retirable.GrantId })
    const granted = (await createGrant.run(deps, caller, { KeyId: k.keyId, GranteePrincipal: other.principalArn, Operations: ['Encrypt', 'RetireGrant'] })) as Created
    await retireGrant.run(deps, other, { GrantToken: granted.GrantToken })
    assert.deepEqual((await deps.store.listGrants(k.keyId, { limit: 10 })).grants.map((g) => g.grantId), [plain.GrantId])
  })

  it('checks operations and constraints against the key type', () => {
    const hmac = key({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' })
    checkGrantRequest(hmac, ['GenerateMac', 'VerifyMac', 'DescribeKey'], undefined)
    assert.throws(() => checkGrantRequest(hmac, ['Encrypt'], undefined), code('ValidationException'))
    assert.throws(() => checkGrantRequest(hmac, ['GenerateMac'], { EncryptionContextSubset: { a: 'b' } }), code('ValidationException'))
    const symmetric = key()
    checkGrantRequest(symmetric, ['Decrypt', 'RetireGrant', 'DescribeKey'], { EncryptionContextEquals: { a: 'b' } })
    assert.throws(() => checkGrantRequest(symmetric, ['Sign'], undefined), code('ValidationException'))
    const rsa = key({ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' })
    checkGrantRequest(rsa, ['Sign', 'Verify', 'GetPublicKey'], undefined)
  })

  it('canonicalises constraints and checks token shape', () => {
    assert.deepEqual(JSON.stringify(canonicalConstraints({ EncryptionContextEquals: { b: '1', a: '2' } })), '{"EncryptionContextEquals":{"a":"2","b":"1"}}')
    assert.equal(canonicalConstraints({}), undefined)
    checkGrantTokens([newGrantToken(), newGrantToken()])
    assert.notEqual(newGrantToken(), newGrantToken())
    assert.throws(() => checkGrantTokens(['short']), code('InvalidGrantTokenException'))
  })
})
