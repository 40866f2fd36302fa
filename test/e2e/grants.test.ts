import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ListGrantsCommand,
  ListRetirableGrantsCommand,
  PutKeyPolicyCommand,
  RetireGrantCommand,
  RevokeGrantCommand,
  type GrantOperation,
} from '@aws-sdk/client-kms'
import { ACCOUNT, kmsClient, rejectsWithKmsError as rejects, startTestServer, tempDataDir, type TestServer } from './harness.js'

const ROOT = `arn:aws:iam::${ACCOUNT}:root`
const OTHER = 'arn:aws:iam::444455556666:role/app'

function policy(actions: string[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: ROOT }, Action: actions, Resource: '*' }] })
}

describe('grants, through the AWS SDK', () => {
  const data = tempDataDir()
  let server: TestServer
  let kms: KMSClient

  before(async () => {
    server = await startTestServer(data.dir)
    kms = kmsClient(server.url)
  })
  after(async () => {
    kms?.destroy()
    await server?.stop()
    data.cleanup()
  })

  /** A key whose policy lets the root manage grants but not use the key. */
  async function grantOnlyKey(extra: string[] = []): Promise<string> {
    const arn = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
    await kms.send(
      new PutKeyPolicyCommand({
        KeyId: arn,
        Policy: policy(['kms:PutKeyPolicy', 'kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant', ...extra]),
        BypassPolicyLockoutSafetyCheck: true,
      }),
    )
    return arn
  }
  const grant = (KeyId: string, Operations: GrantOperation[], more: object = {}) =>
    kms.send(new CreateGrantCommand({ KeyId, GranteePrincipal: ROOT, Operations, ...more }))
  const encrypt = (KeyId: string, EncryptionContext?: Record<string, string>, GrantTokens?: string[]) =>
    kms.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('secret'), EncryptionContext, GrantTokens }))

  it('a grant allows what the key policy does not, until it is revoked', async () => {
    const arn = await grantOnlyKey()
    await rejects(encrypt(arn), 'AccessDeniedException', /because no resource-based policy allows the kms:Encrypt action/)
    const created = await grant(arn, ['Encrypt', 'Decrypt'])
    assert.match(created.GrantId!, /^[0-9a-f]{64}$/)
    assert.ok(created.GrantToken)
    const ct = await encrypt(arn)
    const pt = await kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob }))
    assert.equal(Buffer.from(pt.Plaintext!).toString(), 'secret')
    // Only the granted operations.
    await rejects(kms.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' })), 'AccessDeniedException')
    await rejects(kms.send(new DescribeKeyCommand({ KeyId: arn })), 'AccessDeniedException')
    await kms.send(new RevokeGrantCommand({ KeyId: arn, GrantId: created.GrantId }))
    await rejects(encrypt(arn), 'AccessDeniedException')
    await rejects(kms.send(new RevokeGrantCommand({ KeyId: arn, GrantId: created.GrantId })), 'InvalidGrantIdException')
  })

  it('an EncryptionContextEquals constraint limits the grant to that context', async () => {
    const arn = await grantOnlyKey()
    await grant(arn, ['Encrypt', 'Decrypt'], { Constraints: { EncryptionContextEquals: { purpose: 'billing' } } })
    const ct = await encrypt(arn, { purpose: 'billing' })
    await kms.send(new DecryptCommand({ CiphertextBlob: ct.CiphertextBlob, EncryptionContext: { purpose: 'billing' } }))
    await rejects(encrypt(arn, { purpose: 'audit' }), 'AccessDeniedException')
    await rejects(encrypt(arn, { purpose: 'billing', extra: 'x' }), 'AccessDeniedException')
    await rejects(encrypt(arn), 'AccessDeniedException')
    // Subset: the pairs must be there, others may be too.
    const subsetKey = await grantOnlyKey()
    await grant(subsetKey, ['Encrypt'], { Constraints: { EncryptionContextSubset: { team: 'a' } } })
    await encrypt(subsetKey, { team: 'a', extra: 'x' })
    await rejects(encrypt(subsetKey, { team: 'b' }), 'AccessDeniedException')
  })

  it('grant tokens are accepted at once; a malformed token is refused; RetireGrant by token', async () => {
    const arn = await grantOnlyKey()
    const created = await grant(arn, ['Encrypt'], { RetiringPrincipal: ROOT })
    await encrypt(arn, undefined, [created.GrantToken!])
    await rejects(encrypt(arn, undefined, ['not a token']), 'InvalidGrantTokenException')
    // DescribeKey takes GrantTokens but, as in AWS's service model, never answers InvalidGrantTokenException.
    const open = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
    await kms.send(new DescribeKeyCommand({ KeyId: open, GrantTokens: ['x'] }))
    await rejects(kms.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: ROOT, Operations: ['Encrypt'], GrantTokens: ['x'] })), 'InvalidGrantTokenException')
    await rejects(kms.send(new RetireGrantCommand({ GrantToken: 'garbage' })), 'InvalidGrantTokenException')
    await kms.send(new RetireGrantCommand({ GrantToken: created.GrantToken }))
    await rejects(encrypt(arn), 'AccessDeniedException')
    await rejects(kms.send(new RetireGrantCommand({ GrantToken: created.GrantToken })), 'InvalidGrantTokenException')
  })

  it('RetireGrant by key and grant id: the retiring principal, a grantee with RetireGrant, the issuing account', async () => {
    const arn = await grantOnlyKey()
    const plain = await kms.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: OTHER, Operations: ['Encrypt'] }))
    const byRetirer = await kms.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: OTHER, RetiringPrincipal: ROOT, Operations: ['Encrypt'] }))
    await kms.send(new RetireGrantCommand({ KeyId: arn, GrantId: byRetirer.GrantId }))
    const byGrantee = await grant(arn, ['Encrypt', 'RetireGrant'])
    await kms.send(new RetireGrantCommand({ KeyId: arn, GrantId: byGrantee.GrantId }))
    const policyKey = await grantOnlyKey(['kms:RetireGrant'])
    const viaPolicy = await kms.send(new CreateGrantCommand({ KeyId: policyKey, GranteePrincipal: OTHER, Operations: ['Encrypt'] }))
    await kms.send(new RetireGrantCommand({ KeyId: policyKey, GrantId: viaPolicy.GrantId }))
    const left = await kms.send(new ListGrantsCommand({ KeyId: arn }))
    assert.deepEqual(left.Grants!.map((g) => g.GrantId), [plain.GrantId])
    // The account in which the grant was created (here its root) may retire any of its grants.
    await rejects(kms.send(new RetireGrantCommand({ KeyId: arn, GrantId: plain.GrantId, DryRun: true })), 'DryRunOperationException')
    await kms.send(new RetireGrantCommand({ KeyId: arn, GrantId: plain.GrantId }))
    assert.equal((await kms.send(new ListGrantsCommand({ KeyId: arn }))).Grants!.length, 0)
    await rejects(kms.send(new RetireGrantCommand({ KeyId: arn, GrantId: 'nope' })), 'InvalidGrantIdException')
    await rejects(kms.send(new RetireGrantCommand({ KeyId: arn, GrantId: 'a'.repeat(64) })), 'NotFoundException')
    await rejects(kms.send(new RetireGrantCommand({ KeyId: arn })), 'ValidationException')
  })

  it('Name makes CreateGrant idempotent: the same GrantId with a new token', async () => {
    const arn = await grantOnlyKey()
    const params = { Name: 'app-grant', Constraints: { EncryptionContextSubset: { b: '2', a: '1' } } }
    const first = await grant(arn, ['Encrypt', 'Decrypt'], params)
    const second = await grant(arn, ['Decrypt', 'Encrypt'], { ...params, Constraints: { EncryptionContextSubset: { a: '1', b: '2' } } })
    assert.equal(second.GrantId, first.GrantId)
    assert.notEqual(second.GrantToken, first.GrantToken)
    const third = await grant(arn, ['Encrypt'], params)
    assert.notEqual(third.GrantId, first.GrantId)
    assert.equal((await kms.send(new ListGrantsCommand({ KeyId: arn }))).Grants!.length, 2)
    // Both tokens of the first grant work.
    await encrypt(arn, { a: '1', b: '2' }, [first.GrantToken!, second.GrantToken!])
  })

  it('ListGrants pages and filters, ListRetirableGrants finds grants by retiring principal', async () => {
    const arn = await grantOnlyKey()
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const g = await kms.send(
        new CreateGrantCommand({
          KeyId: arn,
          GranteePrincipal: i === 3 ? OTHER : ROOT,
          Operations: ['Encrypt'],
          Name: `g${i}`,
          ...(i === 1 ? { RetiringPrincipal: OTHER, Constraints: { EncryptionContextEquals: { k: 'v' } } } : {}),
        }),
      )
      ids.push(g.GrantId!)
    }
    const seen: string[] = []
    let marker: string | undefined
    let pages = 0
    do {
      const page = await kms.send(new ListGrantsCommand({ KeyId: arn, Limit: 2, Marker: marker }))
      pages++
      seen.push(...page.Grants!.map((g) => g.GrantId!))
      assert.equal(page.Truncated, page.NextMarker !== undefined)
      marker = page.NextMarker
    } while (marker)
    assert.equal(pages, 3)
    assert.deepEqual(seen, ids)
    const one = (await kms.send(new ListGrantsCommand({ KeyId: arn, GrantId: ids[1] }))).Grants!
    assert.equal(one.length, 1)
    const g = one[0]!
    assert.equal(g.KeyId, arn)
    assert.equal(g.Name, 'g1')
    assert.equal(g.GranteePrincipal, ROOT)
    assert.equal(g.RetiringPrincipal, OTHER)
    assert.equal(g.IssuingAccount, ROOT)
    assert.deepEqual(g.Operations, ['Encrypt'])
    assert.deepEqual(g.Constraints, { EncryptionContextEquals: { k: 'v' } })
    assert.ok(g.CreationDate instanceof Date && Math.abs(g.CreationDate.getTime() - Date.now()) < 60_000)
    const other = (await kms.send(new ListGrantsCommand({ KeyId: arn, GranteePrincipal: OTHER }))).Grants!
    assert.deepEqual(other.map((x) => x.GrantId), [ids[3]])
    const retirable = await kms.send(new ListRetirableGrantsCommand({ RetiringPrincipal: OTHER }))
    assert.ok(retirable.Grants!.some((x) => x.GrantId === ids[1] && x.KeyId === arn))
    await rejects(kms.send(new ListGrantsCommand({ KeyId: arn, Marker: 'bogus' })), 'InvalidMarkerException')
    await rejects(kms.send(new ListGrantsCommand({ KeyId: arn, GrantId: 'not-a-grant-id' })), 'InvalidGrantIdException')
    assert.deepEqual((await kms.send(new ListGrantsCommand({ KeyId: arn, GrantId: 'b'.repeat(64) }))).Grants, [])
    await rejects(kms.send(new ListGrantsCommand({ KeyId: arn, Limit: 101 })), 'ValidationException')
  })

  it('a grant with CreateGrant delegates only what it holds', async () => {
    const arn = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
    const created = await grant(arn, ['Encrypt', 'CreateGrant'])
    await kms.send(new PutKeyPolicyCommand({ KeyId: arn, Policy: policy(['kms:PutKeyPolicy', 'kms:ListGrants']), BypassPolicyLockoutSafetyCheck: true }))
    assert.ok(created.GrantId)
    await kms.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: OTHER, Operations: ['Encrypt'] }))
    await rejects(kms.send(new CreateGrantCommand({ KeyId: arn, GranteePrincipal: OTHER, Operations: ['Decrypt'] })), 'AccessDeniedException')
  })

  it('refuses what AWS refuses', async () => {
    const arn = await grantOnlyKey(['kms:CreateAlias'])
    await rejects(grant(arn, ['Sign']), 'ValidationException', /Sign/)
    await rejects(grant(arn, ['Encrypt'], { Name: 'bad name!' }), 'ValidationException')
    await rejects(grant(arn, ['Bogus' as GrantOperation]), 'ValidationException')
    await rejects(grant(arn, ['Encrypt'], { DryRun: true }), 'DryRunOperationException')
    assert.equal((await kms.send(new ListGrantsCommand({ KeyId: arn }))).Grants!.length, 0)
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/grants-e2e', TargetKeyId: arn }))
    await rejects(grant('alias/grants-e2e', ['Encrypt']), 'NotFoundException')
    await rejects(grant('00000000-0000-0000-0000-000000000000', ['Encrypt']), 'NotFoundException')
    // The key policy gates CreateGrant and RevokeGrant.
    const closed = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
    const g = await grant(closed, ['Encrypt'])
    await kms.send(new PutKeyPolicyCommand({ KeyId: closed, Policy: policy(['kms:PutKeyPolicy']), BypassPolicyLockoutSafetyCheck: true }))
    await rejects(grant(closed, ['Decrypt']), 'AccessDeniedException', /kms:CreateGrant/)
    await rejects(kms.send(new RevokeGrantCommand({ KeyId: closed, GrantId: g.GrantId })), 'AccessDeniedException', /kms:RevokeGrant/)
    await rejects(kms.send(new ListGrantsCommand({ KeyId: closed })), 'AccessDeniedException')
  })
})
