import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { CreateKeyCommand, DecryptCommand, EncryptCommand, PutKeyPolicyCommand, type KMSClient } from '@aws-sdk/client-kms'
import { ACCOUNT, CLI, awsCliFor, kmsClient, rejectsWithKmsError as rejects, startTestServer, tempDataDir, type TestServer } from './harness.js'

const run = promisify(execFile)
const B = '444455556666'
const A_ROOT = `arn:aws:iam::${ACCOUNT}:root`
const B_ROOT = `arn:aws:iam::${B}:root`
const B_USER = `arn:aws:iam::${B}:user/carol`

type Credentials = { accessKeyId: string; secretAccessKey: string }

function profile(text: string, name: string): Credentials {
  const section = text.split(/^\[/m).find((s) => s.startsWith(`${name}]`))
  assert.ok(section, `no profile ${name} in:\n${text}`)
  const value = (k: string) => new RegExp(`^${k} = (\\S+)$`, 'm').exec(section)?.[1]
  return { accessKeyId: value('aws_access_key_id')!, secretAccessKey: value('aws_secret_access_key')! }
}

describe('an IAM user of a second account uses a key of the first across accounts', () => {
  const data = tempDataDir()
  const home = mkdtempSync(join(tmpdir(), 'trent-aws-home-'))
  let server: TestServer
  let kmsA: KMSClient
  let carol: KMSClient
  let bRoot: Credentials

  before(async () => {
    server = await startTestServer(data.dir)
    kmsA = kmsClient(server.url)
    const file = join(data.dir, 'b-credentials')
    await run(process.execPath, [CLI, 'admin', 'create-account', '--account-id', B, '--data-dir', data.dir, '--credentials-file', file])
    bRoot = profile(readFileSync(file, 'utf8'), B)
  })
  after(async () => {
    kmsA?.destroy()
    carol?.destroy()
    await server?.stop()
    data.cleanup()
    rmSync(home, { recursive: true, force: true })
  })

  async function aws(args: string[], credentials: Credentials): Promise<any> {
    const r = await awsCliFor(server.url, home, args, credentials)
    assert.equal(r.code, 0, `aws ${args.join(' ')}: ${r.stderr}`)
    return r.stdout.trim() === '' ? undefined : JSON.parse(r.stdout)
  }

  it('needs both A\'s key policy and B\'s identity policy, conditions included', async () => {
    const created = await aws(['iam', 'create-user', '--user-name', 'carol'], bRoot)
    assert.equal(created.User.Arn, B_USER)
    const key = (await aws(['iam', 'create-access-key', '--user-name', 'carol'], bRoot)).AccessKey
    carol = kmsClient(server.url, { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey })

    const keyArn = (await kmsA.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
    await kmsA.send(new PutKeyPolicyCommand({
      KeyId: keyArn,
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: A_ROOT }, Action: 'kms:*', Resource: '*' },
          { Effect: 'Allow', Principal: { AWS: B_ROOT }, Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*' },
        ],
      }),
    }))

    // A's key policy trusts account B, but B has not delegated anything to carol.
    await rejects(
      carol.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') })),
      'AccessDeniedException',
      `User: ${B_USER} is not authorized to perform: kms:Encrypt on resource: ${keyArn} because no identity-based policy allows the kms:Encrypt action`,
    )

    const identity = (condition?: object) => JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'kms:Encrypt', Resource: keyArn, ...(condition ? { Condition: condition } : {}) }],
    })
    await aws(['iam', 'put-user-policy', '--user-name', 'carol', '--policy-name', 'use-a', '--policy-document', identity()], bRoot)
    const out = await carol.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('from carol') }))
    assert.equal(out.KeyId, keyArn)
    await rejects(carol.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob! })), 'AccessDeniedException', /because no identity-based policy allows the kms:Decrypt action/)
    // A can still decrypt what carol encrypted.
    assert.equal(Buffer.from((await kmsA.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob! }))).Plaintext!).toString(), 'from carol')

    await aws(['iam', 'put-user-policy', '--user-name', 'carol', '--policy-name', 'use-a', '--policy-document', identity({ StringEquals: { 'kms:EncryptionContext:purpose': 'x' } })], bRoot)
    await carol.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x'), EncryptionContext: { purpose: 'x' } }))
    await rejects(carol.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x'), EncryptionContext: { purpose: 'y' } })), 'AccessDeniedException')
    await rejects(carol.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') })), 'AccessDeniedException')
  })
})
