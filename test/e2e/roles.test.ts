import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { CreateKeyCommand, DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms'
import { ACCOUNT, awsCliFor, kmsClient, rejectsWithKmsError as rejects, startTestServer, tempDataDir, type TestServer } from './harness.js'

const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/encryptor`

function policy(...statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements })
}

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string }

describe('IAM roles and STS AssumeRole through the AWS CLI, the session used with the SDK', () => {
  const data = tempDataDir()
  const home = mkdtempSync(join(tmpdir(), 'trent-aws-home-'))
  let server: TestServer
  let admin: KMSClient
  const clients: KMSClient[] = []

  before(async () => {
    server = await startTestServer(data.dir)
    admin = kmsClient(server.url)
  })
  after(async () => {
    admin?.destroy()
    for (const c of clients) c.destroy()
    await server?.stop()
    data.cleanup()
    rmSync(home, { recursive: true, force: true })
  })

  async function aws(args: string[], credentials?: Credentials): Promise<any> {
    const r = await awsCliFor(server.url, home, args, credentials)
    assert.equal(r.code, 0, `aws ${args.join(' ')}: ${r.stderr}`)
    return r.stdout.trim() === '' ? undefined : JSON.parse(r.stdout)
  }
  async function awsFails(args: string[], credentials?: Credentials): Promise<string> {
    const r = await awsCliFor(server.url, home, args, credentials)
    assert.notEqual(r.code, 0, `aws ${args.join(' ')} should have failed: ${r.stdout}`)
    return r.stderr
  }
  function client(credentials: Credentials): KMSClient {
    const c = kmsClient(server.url, credentials as { accessKeyId: string; secretAccessKey: string })
    clients.push(c)
    return c
  }
  async function assume(roleArn: string, session: string, extra: string[] = []): Promise<{ credentials: Credentials; result: any }> {
    const result = await aws(['sts', 'assume-role', '--role-arn', roleArn, '--role-session-name', session, ...extra])
    const c = result.Credentials
    return { credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken }, result }
  }

  it('manages a role and its inline policy', async () => {
    const trust = policy({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' })
    const created = (await aws(['iam', 'create-role', '--role-name', 'encryptor', '--assume-role-policy-document', trust])).Role
    assert.equal(created.RoleName, 'encryptor')
    assert.equal(created.Arn, ROLE_ARN)
    assert.equal(created.Path, '/')
    assert.match(created.RoleId, /^AROA[A-Z2-7]{16}$/)
    assert.deepEqual(created.AssumeRolePolicyDocument, JSON.parse(trust))
    assert.match(await awsFails(['iam', 'create-role', '--role-name', 'encryptor', '--assume-role-policy-document', trust]), /EntityAlreadyExists/)
    const got = (await aws(['iam', 'get-role', '--role-name', 'encryptor'])).Role
    assert.equal(got.RoleId, created.RoleId)
    assert.equal(got.MaxSessionDuration, 3600)
    assert.match(await awsFails(['iam', 'get-role', '--role-name', 'nobody']), /NoSuchEntity.*The role with name nobody cannot be found/)
    assert.match(
      await awsFails(['iam', 'create-role', '--role-name', 'bad', '--assume-role-policy-document', policy({ Effect: 'Allow', Action: 'sts:AssumeRole' })]),
      /MalformedPolicyDocument/,
    )

    const doc = policy({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' })
    await aws(['iam', 'put-role-policy', '--role-name', 'encryptor', '--policy-name', 'encrypt', '--policy-document', doc])
    const p = await aws(['iam', 'get-role-policy', '--role-name', 'encryptor', '--policy-name', 'encrypt'])
    assert.equal(p.RoleName, 'encryptor')
    assert.deepEqual(p.PolicyDocument, JSON.parse(doc))
    assert.match(await awsFails(['iam', 'delete-role', '--role-name', 'encryptor']), /DeleteConflict/)

    // A throwaway role: deleted once its policy is gone.
    await aws(['iam', 'create-role', '--role-name', 'temp', '--assume-role-policy-document', trust])
    await aws(['iam', 'put-role-policy', '--role-name', 'temp', '--policy-name', 'p', '--policy-document', doc])
    await aws(['iam', 'delete-role-policy', '--role-name', 'temp', '--policy-name', 'p'])
    assert.match(await awsFails(['iam', 'get-role-policy', '--role-name', 'temp', '--policy-name', 'p']), /NoSuchEntity.*The role policy with name p cannot be found/)
    await aws(['iam', 'delete-role', '--role-name', 'temp'])
    assert.match(await awsFails(['iam', 'get-role', '--role-name', 'temp']), /NoSuchEntity/)
  })

  it('assumes the role: the session encrypts as its policy allows and nothing more', async () => {
    const role = (await aws(['iam', 'get-role', '--role-name', 'encryptor'])).Role
    const { credentials, result } = await assume(ROLE_ARN, 'worker-1', ['--duration-seconds', '900'])
    assert.match(credentials.accessKeyId, /^ASIA[A-Z2-7]{16}$/)
    assert.ok(credentials.sessionToken && credentials.sessionToken.length > 40)
    const expiresIn = Date.parse(result.Credentials.Expiration) - Date.now()
    assert.ok(expiresIn > 800_000 && expiresIn <= 901_000, `expiration ${result.Credentials.Expiration}`)
    const sessionArn = `arn:aws:sts::${ACCOUNT}:assumed-role/encryptor/worker-1`
    assert.deepEqual(result.AssumedRoleUser, { AssumedRoleId: `${role.RoleId}:worker-1`, Arn: sessionArn })
    assert.deepEqual(await aws(['sts', 'get-caller-identity'], credentials), { UserId: `${role.RoleId}:worker-1`, Account: ACCOUNT, Arn: sessionArn })

    const keyArn = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
    const session = client(credentials)
    const blob = (await session.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('secret') }))).CiphertextBlob!
    await rejects(session.send(new DecryptCommand({ CiphertextBlob: blob })), 'AccessDeniedException', new RegExp(`^User: ${sessionArn} is not authorized to perform: kms:Decrypt`))
    // The admin still decrypts what the session encrypted.
    assert.equal(Buffer.from((await admin.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString(), 'secret')

    // Without the token, or with a tampered one, the credentials are not recognised.
    const { sessionToken, ...withoutToken } = credentials
    await rejects(client(withoutToken).send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') })), 'UnrecognizedClientException', 'The security token included in the request is invalid.')
    const last = sessionToken!.at(-1) === 'A' ? 'B' : 'A'
    await rejects(
      client({ ...credentials, sessionToken: sessionToken!.slice(0, -1) + last }).send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') })),
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    )
    assert.match(await awsFails(['sts', 'get-caller-identity'], { ...credentials, sessionToken: 'forged' }), /InvalidClientTokenId/)
  })

  it('refuses an expired session', async () => {
    // A fresh session, never used (so no signing key is cached), whose expiry is moved into the past
    // in the database: the server's clock cannot be moved from outside, and a session cannot be
    // minted without the HSM that wraps its secret.
    const { credentials } = await assume(ROLE_ARN, 'expiring', ['--duration-seconds', '900'])
    const db = new Database(join(data.dir, 'trent.db'))
    try {
      db.pragma('busy_timeout = 5000')
      const changed = db.prepare('UPDATE role_sessions SET expires_at = ? WHERE access_key_id = ?').run(Date.now() - 1000, credentials.accessKeyId).changes
      assert.equal(changed, 1)
    } finally {
      db.close()
    }
    await rejects(client(credentials).send(new CreateKeyCommand({})), 'ExpiredTokenException', 'The security token included in the request is expired')
    assert.match(await awsFails(['sts', 'get-caller-identity'], credentials), /ExpiredToken/)
  })

  it('refuses AssumeRole when the trust policy does not name the caller, or the role does not exist', async () => {
    const other = policy({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::999988887777:root' }, Action: 'sts:AssumeRole' })
    await aws(['iam', 'create-role', '--role-name', 'foreign', '--assume-role-policy-document', other])
    const rootArn = `arn:aws:iam::${ACCOUNT}:root`
    assert.match(
      await awsFails(['sts', 'assume-role', '--role-arn', `arn:aws:iam::${ACCOUNT}:role/foreign`, '--role-session-name', 's1']),
      new RegExp(`AccessDenied.*User: ${rootArn} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${ACCOUNT}:role/foreign`),
    )
    assert.match(await awsFails(['sts', 'assume-role', '--role-arn', `arn:aws:iam::${ACCOUNT}:role/missing`, '--role-session-name', 's1']), /AccessDenied/)
    // The CLI checks lengths and ranges itself; the pattern and the role's MaxSessionDuration are the server's.
    assert.match(await awsFails(['sts', 'assume-role', '--role-arn', ROLE_ARN, '--role-session-name', 'bad name!']), /ValidationError.*roleSessionName/)
    assert.match(
      await awsFails(['sts', 'assume-role', '--role-arn', ROLE_ARN, '--role-session-name', 'ok', '--duration-seconds', '7200']),
      /ValidationError.*The requested DurationSeconds exceeds the MaxSessionDuration set for this role/,
    )
  })

  it('a session ends with its role, even where its signing key was cached', async () => {
    const trust = policy({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' })
    await aws(['iam', 'create-role', '--role-name', 'ephemeral', '--assume-role-policy-document', trust])
    const { credentials } = await assume(`arn:aws:iam::${ACCOUNT}:role/ephemeral`, 's1')
    await aws(['sts', 'get-caller-identity'], credentials)
    const session = client(credentials)
    await rejects(session.send(new CreateKeyCommand({})), 'AccessDeniedException')
    await aws(['iam', 'delete-role', '--role-name', 'ephemeral'])
    await rejects(session.send(new CreateKeyCommand({})), 'UnrecognizedClientException', 'The security token included in the request is invalid.')
    assert.match(await awsFails(['sts', 'get-caller-identity'], credentials), /InvalidClientTokenId/)
  })

  it('a user needs an identity policy allowing sts:AssumeRole when the trust policy names only the account', async () => {
    await aws(['iam', 'create-user', '--user-name', 'bob'])
    const key = (await aws(['iam', 'create-access-key', '--user-name', 'bob'])).AccessKey
    const bob = { accessKeyId: key.AccessKeyId as string, secretAccessKey: key.SecretAccessKey as string }
    const args = ['sts', 'assume-role', '--role-arn', ROLE_ARN, '--role-session-name', 'bob-session']
    assert.match(await awsFails(args, bob), new RegExp(`AccessDenied.*User: arn:aws:iam::${ACCOUNT}:user/bob is not authorized to perform: sts:AssumeRole`))
    await aws(['iam', 'put-user-policy', '--user-name', 'bob', '--policy-name', 'assume', '--policy-document', policy({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: ROLE_ARN })])
    const result = await aws(args, bob)
    assert.equal(result.AssumedRoleUser.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/encryptor/bob-session`)
    // An explicit Deny in an identity policy wins over the allow.
    await aws(['iam', 'put-user-policy', '--user-name', 'bob', '--policy-name', 'deny', '--policy-document', policy({ Effect: 'Deny', Action: 'sts:AssumeRole', Resource: '*' })])
    assert.match(await awsFails(args, bob), /AccessDenied/)
    await aws(['iam', 'delete-user-policy', '--user-name', 'bob', '--policy-name', 'deny'])
    await aws(['iam', 'delete-user-policy', '--user-name', 'bob', '--policy-name', 'assume'])
    // A trust policy that names the user itself needs no identity policy (same account).
    const trustBob = policy({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/bob` }, Action: 'sts:AssumeRole' })
    await aws(['iam', 'create-role', '--role-name', 'bobs', '--assume-role-policy-document', trustBob])
    await aws(['sts', 'assume-role', '--role-arn', `arn:aws:iam::${ACCOUNT}:role/bobs`, '--role-session-name', 'direct'], bob)
    assert.match(await awsFails(['sts', 'assume-role', '--role-arn', `arn:aws:iam::${ACCOUNT}:role/bobs`, '--role-session-name', 'root']), /AccessDenied/)
  })
})
