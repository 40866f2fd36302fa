import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { CreateKeyCommand, DecryptCommand, EncryptCommand, ScheduleKeyDeletionCommand, type KMSClient } from '@aws-sdk/client-kms'
import { ACCOUNT, policy, awsCliFor, kmsClient, rejectsWithKmsError as rejects, startTestServer, tempDataDir, type TestServer } from './harness.js'

const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/encryptor`
const ROOT = `arn:aws:iam::${ACCOUNT}:root`
const roleArn = (name: string): string => `arn:aws:iam::${ACCOUNT}:role/${name}`

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string }

const trustAccount = policy({ Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'sts:AssumeRole' })

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
  async function assume(arn: string, session: string, extra: string[] = [], as?: Credentials): Promise<{ credentials: Credentials; result: any }> {
    const result = await aws(['sts', 'assume-role', '--role-arn', arn, '--role-session-name', session, ...extra], as)
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

  it('keeps a role MaxSessionDuration and Description, and AssumeRole honours the duration', async () => {
    const created = (await aws(['iam', 'create-role', '--role-name', 'long', '--assume-role-policy-document', trustAccount, '--max-session-duration', '7200', '--description', 'long sessions'])).Role
    assert.equal(created.MaxSessionDuration, 7200)
    assert.equal(created.Description, 'long sessions')
    const got = (await aws(['iam', 'get-role', '--role-name', 'long'])).Role
    assert.equal(got.MaxSessionDuration, 7200)
    assert.equal(got.Description, 'long sessions')

    const { result, credentials } = await assume(roleArn('long'), 'two-hours', ['--duration-seconds', '7200'])
    const expiresIn = Date.parse(result.Credentials.Expiration) - Date.now()
    assert.ok(expiresIn > 7_100_000 && expiresIn <= 7_201_000, `expiration ${result.Credentials.Expiration}`)
    assert.match(
      await awsFails(['sts', 'assume-role', '--role-arn', roleArn('long'), '--role-session-name', 'sx', '--duration-seconds', '7201']),
      /ValidationError.*The requested DurationSeconds exceeds the MaxSessionDuration set for this role\./,
    )
    // Role chaining: a session may assume a role for one hour at most, whatever the role allows.
    await aws(['iam', 'update-assume-role-policy', '--role-name', 'long', '--policy-document', policy({ Effect: 'Allow', Principal: { AWS: [ROOT, roleArn('long')] }, Action: 'sts:AssumeRole' })])
    await aws(['iam', 'put-role-policy', '--role-name', 'long', '--policy-name', 'chain', '--policy-document', policy({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' })])
    assert.match(
      await awsFails(['sts', 'assume-role', '--role-arn', roleArn('long'), '--role-session-name', 'chained', '--duration-seconds', '3601'], credentials),
      /ValidationError.*The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining\./,
    )
    await assume(roleArn('long'), 'chained', ['--duration-seconds', '3600'], credentials)

    // UpdateRole: lowering MaxSessionDuration refuses longer sessions from then on.
    assert.equal(await aws(['iam', 'update-role', '--role-name', 'long', '--max-session-duration', '3600', '--description', 'short now']), undefined)
    const updated = (await aws(['iam', 'get-role', '--role-name', 'long'])).Role
    assert.equal(updated.MaxSessionDuration, 3600)
    assert.equal(updated.Description, 'short now')
    assert.match(await awsFails(['sts', 'assume-role', '--role-arn', roleArn('long'), '--role-session-name', 'sx', '--duration-seconds', '7200']), /exceeds the MaxSessionDuration/)
    assert.match(await awsFails(['iam', 'update-role', '--role-name', 'long', '--max-session-duration', '43201']), /ValidationError.*maxSessionDuration.*less than or equal to 43200/)
    assert.match(await awsFails(['iam', 'update-role', '--role-name', 'nobody', '--description', 'x']), /NoSuchEntity.*The role with name nobody cannot be found/)
    // (The CLI itself refuses a MaxSessionDuration under 3600: the server's check is in iam-action.test.ts.)
  })

  it('honours sts:ExternalId and sts:RoleSessionName in the trust policy; UpdateAssumeRolePolicy replaces it', async () => {
    const trust = policy({
      Effect: 'Allow',
      Principal: { AWS: ROOT },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'sts:ExternalId': 'partner-7731' }, StringLike: { 'sts:RoleSessionName': 'ci-*' } },
    })
    await aws(['iam', 'create-role', '--role-name', 'partner', '--assume-role-policy-document', trust])
    const refused = new RegExp(`AccessDenied.*User: ${ROOT} is not authorized to perform: sts:AssumeRole on resource: ${roleArn('partner')}`)
    assert.match(await awsFails(['sts', 'assume-role', '--role-arn', roleArn('partner'), '--role-session-name', 'ci-1']), refused)
    assert.match(await awsFails(['sts', 'assume-role', '--role-arn', roleArn('partner'), '--role-session-name', 'ci-1', '--external-id', 'partner-0000']), refused)
    assert.match(await awsFails(['sts', 'assume-role', '--role-arn', roleArn('partner'), '--role-session-name', 'other', '--external-id', 'partner-7731']), refused)
    await assume(roleArn('partner'), 'ci-1', ['--external-id', 'partner-7731'])
    assert.match(await awsFails(['sts', 'assume-role', '--role-arn', roleArn('partner'), '--role-session-name', 'ci-1', '--external-id', 'bad id!']), /ValidationError.*externalId/)

    // aws:PrincipalArn and aws:PrincipalAccount are there too.
    await aws(['iam', 'update-assume-role-policy', '--role-name', 'partner', '--policy-document', policy({
      Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'aws:PrincipalAccount': ACCOUNT }, ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:user/*` } },
    })])
    assert.match(await awsFails(['sts', 'assume-role', '--role-arn', roleArn('partner'), '--role-session-name', 'ci-1', '--external-id', 'partner-7731']), refused)
    await aws(['iam', 'create-user', '--user-name', 'carol'])
    const k = (await aws(['iam', 'create-access-key', '--user-name', 'carol'])).AccessKey
    await assume(roleArn('partner'), 'carol', [], { accessKeyId: k.AccessKeyId, secretAccessKey: k.SecretAccessKey })
    assert.match(await awsFails(['iam', 'update-assume-role-policy', '--role-name', 'partner', '--policy-document', policy({ Effect: 'Allow', Action: 'sts:AssumeRole' })]), /MalformedPolicyDocument/)
    assert.match(await awsFails(['iam', 'update-assume-role-policy', '--role-name', 'nobody', '--policy-document', trustAccount]), /NoSuchEntity/)
  })

  it('limits a session to what both its session policy and the role policies allow', async () => {
    await aws(['iam', 'create-role', '--role-name', 'crypto', '--assume-role-policy-document', trustAccount])
    await aws(['iam', 'put-role-policy', '--role-name', 'crypto', '--policy-name', 'use', '--policy-document', policy({ Effect: 'Allow', Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:CreateKey'], Resource: '*' })])
    const keyArn = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
    const plaintext = Buffer.from('limited')

    const onlyEncrypt = policy({ Effect: 'Allow', Action: ['kms:Encrypt', 'kms:GenerateDataKey'], Resource: '*' })
    const { credentials } = await assume(roleArn('crypto'), 'encrypt-only', ['--policy', onlyEncrypt])
    const session = client(credentials)
    const sessionArn = `arn:aws:sts::${ACCOUNT}:assumed-role/crypto/encrypt-only`
    const blob = (await session.send(new EncryptCommand({ KeyId: keyArn, Plaintext: plaintext }))).CiphertextBlob!
    await rejects(session.send(new DecryptCommand({ CiphertextBlob: blob })), 'AccessDeniedException', `User: ${sessionArn} is not authorized to perform: kms:Decrypt on resource: ${keyArn} because no session policy allows the kms:Decrypt action`)
    // Keyless operations (identity policies only) are limited too.
    await rejects(session.send(new CreateKeyCommand({})), 'AccessDeniedException', /because no session policy allows the kms:CreateKey action/)
    // The session policy cannot add what the role does not allow.
    const generous = policy({ Effect: 'Allow', Action: 'kms:*', Resource: '*' })
    const wide = client((await assume(roleArn('crypto'), 'wide', ['--policy', generous])).credentials)
    await wide.send(new EncryptCommand({ KeyId: keyArn, Plaintext: plaintext }))
    await rejects(wide.send(new ScheduleKeyDeletionCommand({ KeyId: keyArn })), 'AccessDeniedException', /because no identity-based policy allows the kms:ScheduleKeyDeletion action$/)
    // An explicit Deny in the session policy wins.
    const denying = policy({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }, { Effect: 'Deny', Action: 'kms:Encrypt', Resource: '*' })
    const denied = client((await assume(roleArn('crypto'), 'denied', ['--policy', denying])).credentials)
    await rejects(denied.send(new EncryptCommand({ KeyId: keyArn, Plaintext: plaintext })), 'AccessDeniedException', /with an explicit deny in a session policy$/)
    assert.equal(Buffer.from((await denied.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString(), 'limited')

    // A key policy that names the session itself is not limited by the session policy.
    const named = (await admin.send(new CreateKeyCommand({ Policy: policy(
      { Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Allow', Principal: { AWS: sessionArn }, Action: 'kms:Decrypt', Resource: '*' },
    ) }))).KeyMetadata!.Arn!
    const forNamed = (await admin.send(new EncryptCommand({ KeyId: named, Plaintext: plaintext }))).CiphertextBlob!
    assert.equal(Buffer.from((await session.send(new DecryptCommand({ CiphertextBlob: forNamed }))).Plaintext!).toString(), 'limited')

    assert.match(await awsFails(['sts', 'assume-role', '--role-arn', roleArn('crypto'), '--role-session-name', 'sx', '--policy', '{"Statement":']), /MalformedPolicyDocument/)
  })

  it('lists roles and the inline policy names of roles and users, page by page', async () => {
    for (const name of ['list-c', 'list-a', 'list-b']) await aws(['iam', 'create-role', '--role-name', name, '--assume-role-policy-document', trustAccount])
    const all = (await aws(['iam', 'list-roles'])).Roles.map((r: any) => r.RoleName)
    assert.deepEqual(all.filter((n: string) => n.startsWith('list-')), ['list-a', 'list-b', 'list-c'])
    assert.deepEqual([...all].sort(), all, 'ordered by name')
    const long = (await aws(['iam', 'list-roles'])).Roles.find((r: any) => r.RoleName === 'long')
    assert.equal(long.MaxSessionDuration, 3600)
    assert.equal(long.Arn, roleArn('long'))
    // The CLI follows the Marker of each page of one role.
    assert.deepEqual((await aws(['iam', 'list-roles', '--page-size', '1'])).Roles.map((r: any) => r.RoleName), all)
    const firstTwo = await aws(['iam', 'list-roles', '--max-items', '2'])
    assert.deepEqual(firstTwo.Roles.map((r: any) => r.RoleName), all.slice(0, 2))
    assert.ok(firstTwo.NextToken)
    const rest = await aws(['iam', 'list-roles', '--starting-token', firstTwo.NextToken])
    assert.deepEqual(rest.Roles.map((r: any) => r.RoleName), all.slice(2))
    assert.deepEqual((await aws(['iam', 'list-roles', '--path-prefix', '/nothing/'])).Roles, [])

    for (const name of ['b', 'a']) await aws(['iam', 'put-role-policy', '--role-name', 'list-a', '--policy-name', name, '--policy-document', policy({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' })])
    assert.deepEqual((await aws(['iam', 'list-role-policies', '--role-name', 'list-a'])).PolicyNames, ['a', 'b'])
    assert.deepEqual((await aws(['iam', 'list-role-policies', '--role-name', 'list-a', '--page-size', '1'])).PolicyNames, ['a', 'b'])
    assert.deepEqual((await aws(['iam', 'list-role-policies', '--role-name', 'list-b'])).PolicyNames, [])
    assert.match(await awsFails(['iam', 'list-role-policies', '--role-name', 'nobody']), /NoSuchEntity.*The role with name nobody cannot be found/)

    await aws(['iam', 'create-user', '--user-name', 'dave'])
    await aws(['iam', 'put-user-policy', '--user-name', 'dave', '--policy-name', 'p1', '--policy-document', policy({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' })])
    assert.deepEqual((await aws(['iam', 'list-user-policies', '--user-name', 'dave'])).PolicyNames, ['p1'])
    assert.match(await awsFails(['iam', 'list-user-policies', '--user-name', 'nobody']), /NoSuchEntity.*The user with name nobody cannot be found/)
    const users = (await aws(['iam', 'list-users', '--page-size', '1'])).Users.map((u: any) => u.UserName)
    assert.deepEqual(users.filter((n: string) => n === 'carol' || n === 'dave'), ['carol', 'dave'])
    assert.deepEqual([...users].sort(), users)
  })

  it('tags users and roles: aws:PrincipalTag in a key policy follows TagUser, UntagUser and UntagRole at once', async () => {
    const byTeam = (team: string) =>
      policy(
        { Sid: 'Admin', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' },
        { Sid: 'ByTeam', Effect: 'Allow', Principal: '*', Action: 'kms:Encrypt', Resource: '*', Condition: { StringEquals: { 'aws:PrincipalAccount': ACCOUNT, 'aws:PrincipalTag/team': team } } },
      )
    const keyId = (await admin.send(new CreateKeyCommand({ Policy: byTeam('blue') }))).KeyMetadata!.KeyId!
    const encrypt = (c: KMSClient) => c.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('tagged') }))

    const user = (await aws(['iam', 'create-user', '--user-name', 'tagged-user', '--tags', 'Key=team,Value=blue', 'Key=cost,Value=42'])).User
    assert.deepEqual(user.Tags, [{ Key: 'team', Value: 'blue' }, { Key: 'cost', Value: '42' }])
    assert.deepEqual((await aws(['iam', 'get-user', '--user-name', 'tagged-user'])).User.Tags, user.Tags)
    const key = (await aws(['iam', 'create-access-key', '--user-name', 'tagged-user'])).AccessKey
    const asUser = client({ accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey })
    await encrypt(asUser)

    // TEAM differs from team only in case: it replaces it.
    await aws(['iam', 'tag-user', '--user-name', 'tagged-user', '--tags', 'Key=TEAM,Value=red'])
    assert.deepEqual((await aws(['iam', 'list-user-tags', '--user-name', 'tagged-user'])).Tags, [{ Key: 'cost', Value: '42' }, { Key: 'TEAM', Value: 'red' }])
    await rejects(encrypt(asUser), 'AccessDeniedException')
    await aws(['iam', 'untag-user', '--user-name', 'tagged-user', '--tag-keys', 'team', 'cost'])
    assert.deepEqual((await aws(['iam', 'list-user-tags', '--user-name', 'tagged-user'])).Tags, [])
    assert.equal((await aws(['iam', 'get-user', '--user-name', 'tagged-user'])).User.Tags, undefined)
    await aws(['iam', 'tag-user', '--user-name', 'tagged-user', '--tags', 'Key=team,Value=blue'])
    await encrypt(asUser)

    const role = (await aws(['iam', 'create-role', '--role-name', 'tagged-role', '--assume-role-policy-document', trustAccount, '--tags', 'Key=team,Value=blue'])).Role
    assert.deepEqual(role.Tags, [{ Key: 'team', Value: 'blue' }])
    const session = client((await assume(role.Arn, 'tagged')).credentials)
    await encrypt(session)
    await aws(['iam', 'untag-role', '--role-name', 'tagged-role', '--tag-keys', 'team'])
    await rejects(encrypt(session), 'AccessDeniedException')
    await aws(['iam', 'tag-role', '--role-name', 'tagged-role', '--tags', 'Key=team,Value=blue'])
    assert.deepEqual((await aws(['iam', 'list-role-tags', '--role-name', 'tagged-role'])).Tags, [{ Key: 'team', Value: 'blue' }])
    await encrypt(session)

    assert.match(await awsFails(['iam', 'tag-user', '--user-name', 'tagged-user', '--tags', 'Key=a,Value=1', 'Key=A,Value=2']), /InvalidInput.*Duplicate tag keys found/)
    assert.match(await awsFails(['iam', 'tag-user', '--user-name', 'tagged-user', '--tags', 'Key=bad#key,Value=1']), /ValidationError.*Member must satisfy regular expression pattern/)
    assert.match(await awsFails(['iam', 'tag-user', '--user-name', 'nobody', '--tags', 'Key=a,Value=1']), /NoSuchEntity/)
    const many = Array.from({ length: 50 }, (_, i) => `Key=k${i},Value=v`)
    assert.match(await awsFails(['iam', 'tag-role', '--role-name', 'tagged-role', '--tags', ...many]), /LimitExceeded.*Cannot exceed quota for TagsPerRole: 50/)
    assert.match(
      await awsFails(['iam', 'create-user', '--user-name', 'too-many-tags', '--tags', ...many, 'Key=k50,Value=v']),
      /ValidationError.*at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50/,
    )
  })

  it('session tags: AssumeRole --tags needs sts:TagSession in the trust policy, and they override the role\'s tags', async () => {
    const keyId = (
      await admin.send(
        new CreateKeyCommand({
          Policy: policy(
            { Sid: 'Admin', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' },
            { Sid: 'Blue', Effect: 'Allow', Principal: '*', Action: 'kms:Encrypt', Resource: '*', Condition: { StringEquals: { 'aws:PrincipalAccount': ACCOUNT, 'aws:PrincipalTag/team': 'blue' } } },
          ),
        }),
      )
    ).KeyMetadata!.KeyId!
    const encrypt = (c: KMSClient) => c.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('session tags') }))
    const role = (await aws(['iam', 'create-role', '--role-name', 'session-tagged', '--assume-role-policy-document', trustAccount, '--tags', 'Key=Team,Value=red'])).Role
    assert.match(await awsFails(['sts', 'assume-role', '--role-arn', role.Arn, '--role-session-name', 's1', '--tags', 'Key=team,Value=blue']), /AccessDenied.*sts:TagSession/)

    const trustTagging = policy(
      { Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'sts:AssumeRole' },
      { Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'sts:TagSession', Condition: { StringEquals: { 'aws:RequestTag/team': 'blue' }, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team'] } } },
    )
    await aws(['iam', 'update-assume-role-policy', '--role-name', 'session-tagged', '--policy-document', trustTagging])
    assert.match(await awsFails(['sts', 'assume-role', '--role-arn', role.Arn, '--role-session-name', 's2', '--tags', 'Key=team,Value=green']), /AccessDenied.*sts:TagSession/)
    assert.match(await awsFails(['sts', 'assume-role', '--role-arn', role.Arn, '--role-session-name', 's3', '--tags', 'Key=team,Value=blue', 'Key=x,Value=y']), /AccessDenied.*sts:TagSession/)
    // The role says Team=red; the session's team=blue wins (IAM tag keys compare without case).
    const tagged = client((await assume(role.Arn, 's4', ['--tags', 'Key=team,Value=blue'])).credentials)
    await encrypt(tagged)
    const untagged = client((await assume(role.Arn, 's5')).credentials)
    await rejects(encrypt(untagged), 'AccessDeniedException')
    assert.match(
      await awsFails(['sts', 'assume-role', '--role-arn', role.Arn, '--role-session-name', 's6', '--tags', 'Key=team,Value=blue', '--transitive-tag-keys', 'team']),
      /ValidationError.*TransitiveTagKeys/,
    )
  })

  it('keeps IAM paths: ARNs with the path, PathPrefix listings, key policies and AssumeRole by the path ARN', async () => {
    const user = (await aws(['iam', 'create-user', '--user-name', 'pathed-user', '--path', '/division/team/'])).User
    assert.equal(user.Path, '/division/team/')
    assert.equal(user.Arn, `arn:aws:iam::${ACCOUNT}:user/division/team/pathed-user`)
    assert.equal((await aws(['iam', 'get-user', '--user-name', 'pathed-user'])).User.Arn, user.Arn)
    const role = (await aws(['iam', 'create-role', '--role-name', 'pathed-role', '--path', '/service-role/', '--assume-role-policy-document', trustAccount])).Role
    assert.equal(role.Path, '/service-role/')
    assert.equal(role.Arn, `arn:aws:iam::${ACCOUNT}:role/service-role/pathed-role`)
    assert.deepEqual((await aws(['iam', 'list-users', '--path-prefix', '/division/'])).Users.map((u: any) => u.UserName), ['pathed-user'])
    assert.deepEqual((await aws(['iam', 'list-roles', '--path-prefix', '/service-role/'])).Roles.map((r: any) => r.RoleName), ['pathed-role'])
    for (const bad of ['no-slashes', '/no-trailing-slash', '//x y/']) {
      assert.match(await awsFails(['iam', 'create-user', '--user-name', 'bad-path', '--path', bad]), /ValidationError.*at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern/)
    }
    assert.match(await awsFails(['iam', 'list-users', '--path-prefix', 'nope']), /ValidationError.*at 'pathPrefix'/)

    // Key policies name them by their ARNs, paths included.
    const keyId = (
      await admin.send(
        new CreateKeyCommand({
          Policy: policy(
            { Sid: 'Admin', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' },
            { Sid: 'PathedPrincipals', Effect: 'Allow', Principal: { AWS: [role.Arn, user.Arn] }, Action: 'kms:Encrypt', Resource: '*' },
          ),
        }),
      )
    ).KeyMetadata!.KeyId!
    // AssumeRole needs the role's own ARN: without its path it names no role.
    assert.match(await awsFails(['sts', 'assume-role', '--role-arn', roleArn('pathed-role'), '--role-session-name', 'no-path']), /AccessDenied/)
    const { credentials, result } = await assume(role.Arn, 'with-path')
    assert.equal(result.AssumedRoleUser.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/pathed-role/with-path`)
    await client(credentials).send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('by the pathed role') }))
    const key = (await aws(['iam', 'create-access-key', '--user-name', 'pathed-user'])).AccessKey
    const asUser = client({ accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey })
    const sealed = await asUser.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('by the pathed user') }))
    assert.equal((await aws(['sts', 'get-caller-identity'], { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey })).Arn, user.Arn)
    await rejects(asUser.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob! })), 'AccessDeniedException')
  })
})
