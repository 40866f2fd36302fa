import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetKeyPolicyCommand,
  KMSClient,
  PutKeyPolicyCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-kms'
import { ACCOUNT, CLI, awsCli, policy, kmsClient, rejectsWithKmsError as rejects, startTestServer, tempDataDir, type TestServer } from './harness.js'

const run = promisify(execFile)
const ROOT = `arn:aws:iam::${ACCOUNT}:root`
const LOCKOUT = 'The new key policy will not allow you to update the key policy in the future.'

const allowRoot = (actions: string | string[], extra: object = {}) => ({ Effect: 'Allow', Principal: { AWS: ROOT }, Action: actions, Resource: '*', ...extra })

describe('key policies are enforced as AWS KMS enforces them', () => {
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

  async function newKey(): Promise<string> {
    return (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
  }

  it('the lockout safety check refuses a policy that would stop the caller from changing it again', async () => {
    const arn = await newKey()
    const before = (await kms.send(new GetKeyPolicyCommand({ KeyId: arn }))).Policy
    await rejects(kms.send(new PutKeyPolicyCommand({ KeyId: arn, Policy: policy(allowRoot('kms:Encrypt')) })), 'MalformedPolicyDocumentException', LOCKOUT)
    assert.equal((await kms.send(new GetKeyPolicyCommand({ KeyId: arn }))).Policy, before)
    await rejects(kms.send(new CreateKeyCommand({ Policy: policy(allowRoot('kms:Encrypt')) })), 'MalformedPolicyDocumentException', LOCKOUT)
  })

  it('a key policy that does not allow an action denies it, even to the account root', async () => {
    const arn = await newKey()
    await kms.send(new PutKeyPolicyCommand({ KeyId: arn, Policy: policy(allowRoot(['kms:PutKeyPolicy', 'kms:GetKeyPolicy'])), BypassPolicyLockoutSafetyCheck: true }))
    await rejects(
      kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') })),
      'AccessDeniedException',
      `User: ${ROOT} is not authorized to perform: kms:Encrypt on resource: ${arn} because no resource-based policy allows the kms:Encrypt action`,
    )
    await rejects(kms.send(new DescribeKeyCommand({ KeyId: arn })), 'AccessDeniedException')
    // Still allowed to mend the policy, so the key is not lost.
    await kms.send(new PutKeyPolicyCommand({ KeyId: arn, Policy: policy(allowRoot('kms:*')) }))
    await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }))
  })

  it('an explicit Deny on an encryption-context condition wins over the Allow', async () => {
    const arn = await newKey()
    await kms.send(
      new PutKeyPolicyCommand({
        KeyId: arn,
        Policy: policy(allowRoot('kms:*'), {
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { StringNotEquals: { 'kms:EncryptionContext:purpose': 'billing' } },
        }),
      }),
    )
    const good = await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('ok'), EncryptionContext: { purpose: 'billing' } }))
    const other = await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('no'), EncryptionContext: { purpose: 'audit' } }))
    const back = await kms.send(new DecryptCommand({ CiphertextBlob: good.CiphertextBlob, EncryptionContext: { purpose: 'billing' } }))
    assert.equal(Buffer.from(back.Plaintext!).toString(), 'ok')
    await rejects(
      kms.send(new DecryptCommand({ CiphertextBlob: other.CiphertextBlob, EncryptionContext: { purpose: 'audit' } })),
      'AccessDeniedException',
      `User: ${ROOT} is not authorized to perform: kms:Decrypt on resource: ${arn} with an explicit deny in a resource-based policy`,
    )
  })

  it('trent policy explain tells an administrator which statement decided', async () => {
    const arn = await newKey()
    await kms.send(
      new PutKeyPolicyCommand({
        KeyId: arn,
        Policy: policy(allowRoot('kms:*', { Sid: 'Admin' }), {
          Sid: 'BillingOnly',
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { StringNotEquals: { 'kms:EncryptionContext:purpose': 'billing' } },
        }),
      }),
    )
    const explain = async (...args: string[]) => {
      const { stdout } = await run(process.execPath, [CLI, 'policy', 'explain', '--data-dir', data.dir, '--principal', ROOT, '--key', arn, ...args], { timeout: 20_000 })
      return JSON.parse(stdout)
    }
    const denied = await explain('--action', 'kms:Decrypt', '--context', 'purpose=audit')
    assert.equal(denied.decision, 'ExplicitDeny')
    assert.deepEqual(denied.decidedBy, [{ kind: 'key-policy', statementIndex: 1, sid: 'BillingOnly', effect: 'Deny' }])
    const allowed = await explain('--action', 'kms:Decrypt', '--context', 'purpose=billing')
    assert.equal(allowed.decision, 'Allow')
    assert.equal(allowed.decidedBy[0].sid, 'Admin')
    await assert.rejects(run(process.execPath, [CLI, 'policy', 'explain', '--data-dir', data.dir, '--principal', ROOT, '--key', '00000000-0000-4000-8000-000000000000', '--action', 'kms:Decrypt']))
  })

  it('conditions see the key\'s tags (aws:ResourceTag) as they change', async () => {
    const arn = await newKey()
    await kms.send(
      new PutKeyPolicyCommand({
        KeyId: arn,
        Policy: policy(allowRoot('kms:*'), { Effect: 'Deny', Principal: { AWS: ROOT }, Action: 'kms:Encrypt', Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/frozen': 'true' } } }),
      }),
    )
    await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }))
    await kms.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: 'frozen', TagValue: 'true' }] }))
    await rejects(kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') })), 'AccessDeniedException', /explicit deny/)
    await kms.send(new UntagResourceCommand({ KeyId: arn, TagKeys: ['frozen'] }))
    await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }))
  })

  it('the AWS CLI sees AccessDeniedException', async () => {
    const arn = await newKey()
    await kms.send(new PutKeyPolicyCommand({ KeyId: arn, Policy: policy(allowRoot(['kms:PutKeyPolicy'])), BypassPolicyLockoutSafetyCheck: true }))
    const r = await awsCli(server.url, data.dir, ['encrypt', '--key-id', arn, '--plaintext', 'aGk='])
    assert.equal(r.code, 254)
    assert.match(r.stderr, /AccessDeniedException/)
  })
})
