import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { isKmsError } from '../core/errors.js'
import type { Hsm } from '../hsm/hsm.js'
import { SqliteStore } from '../store/sqlite/sqlite-store.js'
import type { KeyRecord } from '../store/store.js'
import type { Caller, ServiceDeps } from './deps.js'
import { resolveKey } from './resolve-key.js'

const REGION = 'us-east-1'
const A = '111122223333'
const B = '444455556666'
const callerB: Caller = { accountId: B, principalArn: `arn:aws:iam::${B}:root`, accessKeyId: 'AKIAB' }

function key(accountId: string): KeyRecord {
  const keyId = randomUUID()
  return {
    keyId,
    arn: `arn:aws:kms:${REGION}:${accountId}:key/${keyId}`,
    accountId,
    region: REGION,
    creationDate: 1_700_000_000_000,
    description: '',
    keyUsage: 'ENCRYPT_DECRYPT',
    keySpec: 'SYMMETRIC_DEFAULT',
    origin: 'AWS_KMS',
    keyState: 'Enabled',
    keyManager: 'CUSTOMER',
    multiRegion: false,
    policy: '{}',
    tags: [],
    version: 1,
  }
}

async function setup() {
  const store = new SqliteStore(new Database(':memory:'))
  await store.migrate()
  const deps: ServiceDeps = { store, hsm: {} as Hsm, clock: { now: () => 1_800_000_000_000 }, region: REGION, partition: 'aws' }
  const k = key(A)
  await store.createKey(k)
  return { deps, k }
}

const notFound = (message: string) => (e: unknown) => {
  assert.ok(isKmsError(e) && e.code === 'NotFoundException', String(e))
  assert.equal(e.message, message)
  return true
}

describe('resolveKey across accounts', () => {
  it('cross-account operations resolve another account\'s key by key ARN only', async () => {
    const { deps, k } = await setup()
    assert.equal((await resolveKey(deps, callerB, k.arn, { allowAlias: true, crossAccount: true })).keyId, k.keyId)
    const mine = `Key 'arn:aws:kms:${REGION}:${B}:key/${k.keyId}' does not exist`
    await assert.rejects(resolveKey(deps, callerB, k.keyId, { allowAlias: true, crossAccount: true }), notFound(mine))
  })

  it('management operations answer another account\'s key ARN as a key missing from the caller\'s account', async () => {
    const { deps, k } = await setup()
    const mine = `Key 'arn:aws:kms:${REGION}:${B}:key/${k.keyId}' does not exist`
    await assert.rejects(resolveKey(deps, callerB, k.arn, { allowAlias: false }), notFound(mine))
    // The same answer whether or not the key exists.
    const ghost = randomUUID()
    await assert.rejects(
      resolveKey(deps, callerB, `arn:aws:kms:${REGION}:${A}:key/${ghost}`, { allowAlias: false }),
      notFound(`Key 'arn:aws:kms:${REGION}:${B}:key/${ghost}' does not exist`),
    )
    await assert.rejects(resolveKey(deps, callerB, `arn:aws:kms:${REGION}:${A}:key/nope`, { allowAlias: false }), notFound(`Invalid keyId 'arn:aws:kms:${REGION}:${A}:key/nope'`))
  })
})
