import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { CreateKeyCommand, PutKeyPolicyCommand, type KMSClient } from '@aws-sdk/client-kms'
import { ACCOUNT, CLI, awsCliFor, kmsClient, rawRequest, startTestServer, tempDataDir, type TestServer } from './harness.js'

const run = promisify(execFile)
const ROOT = `arn:aws:iam::${ACCOUNT}:root`
const EXPLAIN = { 'x-amz-target': 'TrentAdmin.ExplainPolicy' }

describe('TrentAdmin.ExplainPolicy over HTTP', () => {
  const data = tempDataDir()
  const home = mkdtempSync(join(tmpdir(), 'trent-aws-home-'))
  let server: TestServer
  let kms: KMSClient
  let keyArn: string

  before(async () => {
    server = await startTestServer(data.dir)
    kms = kmsClient(server.url)
    keyArn = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
    await kms.send(new PutKeyPolicyCommand({
      KeyId: keyArn,
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'Admin', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' },
          { Sid: 'BillingOnly', Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { StringNotEquals: { 'kms:EncryptionContext:purpose': 'billing' } } },
        ],
      }),
    }))
  })
  after(async () => {
    kms?.destroy()
    await server?.stop()
    data.cleanup()
    rmSync(home, { recursive: true, force: true })
  })

  const explain = (body: unknown, credentials?: { accessKeyId: string; secretAccessKey: string }) =>
    rawRequest(server.url, { headers: EXPLAIN, body: JSON.stringify(body), ...(credentials ? { credentials } : {}) })

  it('the account root gets the same answer as trent policy explain', async () => {
    for (const purpose of ['audit', 'billing']) {
      const r = await explain({ PrincipalArn: ROOT, Action: 'kms:Decrypt', KeyId: keyArn, EncryptionContext: { purpose } })
      assert.equal(r.status, 200, JSON.stringify(r.body))
      const { stdout } = await run(process.execPath, [CLI, 'policy', 'explain', '--data-dir', data.dir, '--principal', ROOT, '--key', keyArn, '--action', 'kms:Decrypt', '--context', `purpose=${purpose}`], { timeout: 20_000 })
      const cli = JSON.parse(stdout)
      assert.deepEqual(r.body, { Decision: cli.decision, DecidedBy: cli.decidedBy, Explanation: cli.explanation })
      assert.equal(r.body.Decision, purpose === 'billing' ? 'Allow' : 'ExplicitDeny')
    }
    // By key id too.
    const byId = await explain({ PrincipalArn: ROOT, Action: 'kms:Encrypt', KeyId: keyArn.split('/')[1] })
    assert.equal(byId.body.Decision, 'Allow')
  })

  it('bad input is a ValidationException; an unknown key a NotFoundException', async () => {
    for (const body of [{}, { PrincipalArn: ROOT, Action: 'kms:Decrypt' }, { PrincipalArn: 'nonsense', Action: 'kms:Decrypt', KeyId: keyArn }, { PrincipalArn: ROOT, Action: 'kms:Decrypt', KeyId: keyArn, EncryptionContext: { a: 1 } }]) {
      const r = await explain(body)
      assert.equal(r.status, 400)
      assert.equal(r.body.__type, 'ValidationException', JSON.stringify(body))
    }
    const missing = await explain({ PrincipalArn: ROOT, Action: 'kms:Decrypt', KeyId: '00000000-0000-4000-8000-000000000000' })
    assert.equal(missing.body.__type, 'NotFoundException')
  })

  it('an IAM user of the same account is refused even with a * identity policy; another account\'s root cannot see the key', async () => {
    const aws = async (args: string[], credentials?: { accessKeyId: string; secretAccessKey: string }) => {
      const r = await awsCliFor(server.url, home, args, credentials)
      assert.equal(r.code, 0, r.stderr)
      return r.stdout.trim() === '' ? undefined : JSON.parse(r.stdout)
    }
    await aws(['iam', 'create-user', '--user-name', 'ops'])
    await aws(['iam', 'put-user-policy', '--user-name', 'ops', '--policy-name', 'all', '--policy-document', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kms:*', '*'], Resource: '*' }] })])
    const key = (await aws(['iam', 'create-access-key', '--user-name', 'ops'])).AccessKey
    const r = await explain({ PrincipalArn: ROOT, Action: 'kms:Decrypt', KeyId: keyArn }, { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey })
    assert.equal(r.status, 400)
    assert.equal(r.body.__type, 'AccessDeniedException')
    assert.doesNotMatch(JSON.stringify(r.body), /BillingOnly|Admin/)

    const { stdout } = await run(process.execPath, [CLI, 'admin', 'create-account', '--account-id', '444455556666', '--data-dir', data.dir])
    const value = (k: string) => new RegExp(`^${k} = (\\S+)$`, 'm').exec(stdout)![1]!
    const other = await explain({ PrincipalArn: ROOT, Action: 'kms:Decrypt', KeyId: keyArn }, { accessKeyId: value('aws_access_key_id'), secretAccessKey: value('aws_secret_access_key') })
    assert.equal(other.body.__type, 'NotFoundException')
    assert.doesNotMatch(JSON.stringify(other.body), /BillingOnly|Admin/)
  })
})
