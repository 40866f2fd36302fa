import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Sha256 } from '@aws-crypto/sha256-js'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import { CreateKeyCommand, DecryptCommand, EncryptCommand, ListKeysCommand, type KMSClient } from '@aws-sdk/client-kms'
import { ACCOUNT, policy, CREDENTIALS, REGION, awsCliFor, kmsClient, rejectsWithKmsError as rejects, startTestServer, tempDataDir, type TestServer } from './harness.js'

const USER_ARN = `arn:aws:iam::${ACCOUNT}:user/alice`

describe('IAM users through the AWS CLI, and their keys with the SDK', () => {
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

  async function aws(args: string[], credentials?: { accessKeyId: string; secretAccessKey: string }): Promise<any> {
    const r = await awsCliFor(server.url, home, args, credentials)
    assert.equal(r.code, 0, `aws ${args.join(' ')}: ${r.stderr}`)
    return r.stdout.trim() === '' ? undefined : JSON.parse(r.stdout)
  }
  async function awsFails(args: string[], credentials?: { accessKeyId: string; secretAccessKey: string }): Promise<string> {
    const r = await awsCliFor(server.url, home, args, credentials)
    assert.notEqual(r.code, 0, `aws ${args.join(' ')} should have failed: ${r.stdout}`)
    return r.stderr
  }

  it('manages a user, its policy and access keys, and the user is authorised by its policies', async () => {
    // The account root (admin credentials) creates the user.
    const created = await aws(['iam', 'create-user', '--user-name', 'alice'])
    assert.equal(created.User.UserName, 'alice')
    assert.equal(created.User.Arn, USER_ARN)
    assert.equal(created.User.Path, '/')
    assert.match(created.User.UserId, /^AIDA[A-Z2-7]{16}$/)
    assert.ok(!Number.isNaN(Date.parse(created.User.CreateDate)))
    assert.match(await awsFails(['iam', 'create-user', '--user-name', 'alice']), /EntityAlreadyExists/)
    assert.deepEqual((await aws(['iam', 'get-user', '--user-name', 'alice'])).User, created.User)
    assert.deepEqual((await aws(['iam', 'list-users'])).Users, [created.User])
    assert.match(await awsFails(['iam', 'get-user', '--user-name', 'nobody']), /NoSuchEntity.*The user with name nobody cannot be found/)

    const key = (await aws(['iam', 'create-access-key', '--user-name', 'alice'])).AccessKey
    assert.equal(key.UserName, 'alice')
    assert.equal(key.Status, 'Active')
    assert.match(key.AccessKeyId, /^AKIA[A-Z2-7]{16}$/)
    const credentials = { accessKeyId: key.AccessKeyId as string, secretAccessKey: key.SecretAccessKey as string }
    const listed = (await aws(['iam', 'list-access-keys', '--user-name', 'alice'])).AccessKeyMetadata
    assert.deepEqual(listed.map((k: any) => [k.AccessKeyId, k.Status, k.UserName]), [[key.AccessKeyId, 'Active', 'alice']])

    // Who am I: the root, then the user.
    assert.deepEqual(await aws(['sts', 'get-caller-identity']), { UserId: ACCOUNT, Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:root` })
    assert.deepEqual(await aws(['sts', 'get-caller-identity'], credentials), { UserId: created.User.UserId, Account: ACCOUNT, Arn: USER_ARN })

    // A user without an identity policy: the default key policy trusts the account, so it needs one.
    const keyArn = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
    const alice = kmsClient(server.url, credentials)
    clients.push(alice)
    await rejects(
      alice.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') })),
      'AccessDeniedException',
      `User: ${USER_ARN} is not authorized to perform: kms:Encrypt on resource: ${keyArn} because no identity-based policy allows the kms:Encrypt action`,
    )
    await rejects(
      alice.send(new CreateKeyCommand({})),
      'AccessDeniedException',
      `User: ${USER_ARN} is not authorized to perform: kms:CreateKey on resource: * because no identity-based policy allows the kms:CreateKey action`,
    )
    await rejects(alice.send(new ListKeysCommand({})), 'AccessDeniedException')
    // Nor may it manage IAM.
    assert.match(await awsFails(['iam', 'create-user', '--user-name', 'mallory'], credentials), /AccessDenied.*iam:CreateUser/)

    // kms:Encrypt allowed by its policy: Encrypt works, Decrypt does not.
    await aws(['iam', 'put-user-policy', '--user-name', 'alice', '--policy-name', 'encrypt', '--policy-document', policy({ Effect: 'Allow', Action: ['kms:Encrypt', 'kms:ListKeys'], Resource: '*' })])
    const got = await aws(['iam', 'get-user-policy', '--user-name', 'alice', '--policy-name', 'encrypt'])
    assert.equal(got.PolicyName, 'encrypt')
    assert.deepEqual(got.PolicyDocument.Statement[0].Action, ['kms:Encrypt', 'kms:ListKeys'])
    const { CiphertextBlob } = await alice.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('secret') }))
    assert.ok((await alice.send(new ListKeysCommand({}))).Keys!.some((k) => k.KeyArn === keyArn))
    await rejects(alice.send(new DecryptCommand({ CiphertextBlob })), 'AccessDeniedException', /because no identity-based policy allows the kms:Decrypt action$/)

    // kms:* allowed, but an explicit Deny of Decrypt wins.
    await aws(['iam', 'put-user-policy', '--user-name', 'alice', '--policy-name', 'all', '--policy-document', policy({ Effect: 'Allow', Action: 'kms:*', Resource: '*' })])
    assert.equal(Buffer.from((await alice.send(new DecryptCommand({ CiphertextBlob }))).Plaintext!).toString(), 'secret')
    await aws(['iam', 'put-user-policy', '--user-name', 'alice', '--policy-name', 'no-decrypt', '--policy-document', policy({ Effect: 'Deny', Action: 'kms:Decrypt', Resource: '*' })])
    await rejects(
      alice.send(new DecryptCommand({ CiphertextBlob })),
      'AccessDeniedException',
      `User: ${USER_ARN} is not authorized to perform: kms:Decrypt on resource: ${keyArn} with an explicit deny in an identity-based policy`,
    )
    assert.ok((await alice.send(new CreateKeyCommand({}))).KeyMetadata!.Arn)

    // An identity policy may grant IAM actions too.
    await aws(['iam', 'put-user-policy', '--user-name', 'alice', '--policy-name', 'self', '--policy-document', policy({ Effect: 'Allow', Action: 'iam:GetUser', Resource: USER_ARN })])
    assert.equal((await aws(['iam', 'get-user'], credentials)).User.Arn, USER_ARN)
    assert.match(await awsFails(['iam', 'list-users'], credentials), /AccessDenied/)

    // Deleting: policies and keys first (DeleteConflict), then the user.
    assert.match(await awsFails(['iam', 'delete-user', '--user-name', 'alice']), /DeleteConflict/)
    await aws(['iam', 'delete-access-key', '--user-name', 'alice', '--access-key-id', key.AccessKeyId])
    assert.match(await awsFails(['iam', 'delete-access-key', '--user-name', 'alice', '--access-key-id', key.AccessKeyId]), /NoSuchEntity/)
    await rejects(alice.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') })), 'UnrecognizedClientException')
    assert.match(await awsFails(['iam', 'delete-user', '--user-name', 'alice']), /DeleteConflict/)
    for (const name of ['encrypt', 'all', 'no-decrypt', 'self']) await aws(['iam', 'delete-user-policy', '--user-name', 'alice', '--policy-name', name])
    assert.match(await awsFails(['iam', 'delete-user-policy', '--user-name', 'alice', '--policy-name', 'all']), /NoSuchEntity/)
    await aws(['iam', 'delete-user', '--user-name', 'alice'])
    assert.deepEqual((await aws(['iam', 'list-users'])).Users, [])
  })

  /** A query-protocol request signed for `service`, answered as raw XML. */
  async function query(service: 'iam' | 'sts', body: string, credentials = CREDENTIALS): Promise<{ status: number; text: string }> {
    const u = new URL(server.url)
    const headers = { host: u.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }
    const signer = new SignatureV4({ credentials, region: REGION, service, sha256: Sha256 })
    const signed = await signer.sign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: '/', headers, body }))
    const { host: _host, ...sent } = signed.headers
    const res = await fetch(`${server.url}/`, { method: 'POST', headers: sent, body })
    return { status: res.status, text: await res.text() }
  }

  it('answers in the query protocol with AWS XML documents and HTTP statuses', async () => {
    const created = await query('iam', 'Action=CreateUser&Version=2010-05-08&UserName=carol')
    assert.equal(created.status, 200)
    assert.match(
      created.text,
      /^<CreateUserResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/"><CreateUserResult><User><Path>\/<\/Path><UserName>carol<\/UserName><UserId>AIDA[A-Z2-7]{16}<\/UserId><Arn>arn:aws:iam::111122223333:user\/carol<\/Arn><CreateDate>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<\/CreateDate><\/User><\/CreateUserResult><ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata><\/CreateUserResponse>$/,
    )
    const missing = await query('iam', 'Action=GetUser&Version=2010-05-08&UserName=nobody')
    assert.equal(missing.status, 404)
    assert.match(
      missing.text,
      /^<ErrorResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/"><Error><Type>Sender<\/Type><Code>NoSuchEntity<\/Code><Message>The user with name nobody cannot be found\.<\/Message><\/Error><RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>$/,
    )
    assert.equal((await query('iam', 'Action=CreateUser&Version=2010-05-08&UserName=carol')).status, 409)
    const deleted = await query('iam', 'Action=DeleteUser&Version=2010-05-08&UserName=carol')
    assert.equal(deleted.status, 200)
    assert.match(deleted.text, /^<DeleteUserResponse xmlns="[^"]+"><ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata><\/DeleteUserResponse>$/)
    const badName = await query('iam', 'Action=CreateUser&Version=2010-05-08&UserName=a%2Fb')
    assert.equal(badName.status, 400)
    assert.match(badName.text, /<Code>ValidationError<\/Code>/)
    const unknown = await query('iam', 'Action=CreateGroup&Version=2010-05-08&GroupName=g')
    assert.match(unknown.text, /<Code>InvalidAction<\/Code><Message>Could not find operation CreateGroup for version 2010-05-08<\/Message>/)
    const wrongSecret = await query('sts', 'Action=GetCallerIdentity&Version=2011-06-15', { ...CREDENTIALS, secretAccessKey: 'wrong' })
    assert.equal(wrongSecret.status, 403)
    assert.match(wrongSecret.text, /^<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><Error><Type>Sender<\/Type><Code>SignatureDoesNotMatch<\/Code>/)
    const unknownKey = await query('sts', 'Action=GetCallerIdentity&Version=2011-06-15', { accessKeyId: 'AKIAAAAAAAAAAAAAAAAA', secretAccessKey: 'x' })
    assert.equal(unknownKey.status, 403)
    assert.match(unknownKey.text, /<Code>InvalidClientTokenId<\/Code><Message>The security token included in the request is invalid\.<\/Message>/)
    // An IAM request signed for kms is refused.
    assert.match((await query('kms' as 'iam', 'Action=ListUsers&Version=2010-05-08')).text, /<Code>SignatureDoesNotMatch<\/Code>|<Code>IncompleteSignature<\/Code>|Credential should be scoped to correct service/)
  })

  it('answers the role settings and listing actions in AWS XML', async () => {
    const trust = encodeURIComponent(policy({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }))
    const short = await query('iam', `Action=CreateRole&Version=2010-05-08&RoleName=xml&AssumeRolePolicyDocument=${trust}&MaxSessionDuration=1800`)
    assert.equal(short.status, 400)
    assert.match(short.text, /<Code>ValidationError<\/Code><Message>1 validation error detected: Value &apos;1800&apos; at &apos;maxSessionDuration&apos; failed to satisfy constraint: Member must have value greater than or equal to 3600<\/Message>/)
    assert.equal((await query('iam', `Action=CreateRole&Version=2010-05-08&RoleName=xml&AssumeRolePolicyDocument=${trust}&Description=d`)).status, 200)
    const updated = await query('iam', 'Action=UpdateRole&Version=2010-05-08&RoleName=xml&MaxSessionDuration=43200')
    assert.match(updated.text, /^<UpdateRoleResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/"><UpdateRoleResult><\/UpdateRoleResult><ResponseMetadata>/)
    const role = await query('iam', 'Action=GetRole&Version=2010-05-08&RoleName=xml')
    assert.match(role.text, /<AssumeRolePolicyDocument>[^<]+<\/AssumeRolePolicyDocument><Description>d<\/Description><MaxSessionDuration>43200<\/MaxSessionDuration><\/Role>/)
    for (const name of ['p2', 'p1']) {
      await query('iam', `Action=PutRolePolicy&Version=2010-05-08&RoleName=xml&PolicyName=${name}&PolicyDocument=${encodeURIComponent(policy({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' }))}`)
    }
    const first = await query('iam', 'Action=ListRolePolicies&Version=2010-05-08&RoleName=xml&MaxItems=1')
    const marker = /<Marker>([^<]+)<\/Marker>/.exec(first.text)?.[1]
    assert.match(first.text, /<ListRolePoliciesResult><PolicyNames><member>p1<\/member><\/PolicyNames><IsTruncated>true<\/IsTruncated><Marker>[^<]+<\/Marker><\/ListRolePoliciesResult>/)
    const second = await query('iam', `Action=ListRolePolicies&Version=2010-05-08&RoleName=xml&MaxItems=1&Marker=${marker}`)
    assert.match(second.text, /<ListRolePoliciesResult><PolicyNames><member>p2<\/member><\/PolicyNames><IsTruncated>false<\/IsTruncated><\/ListRolePoliciesResult>/)
    assert.match((await query('iam', 'Action=ListRoles&Version=2010-05-08&MaxItems=0')).text, /Value &apos;0&apos; at &apos;maxItems&apos; failed to satisfy constraint: Member must have value greater than or equal to 1/)
    const external = await query('sts', `Action=AssumeRole&Version=2011-06-15&RoleArn=${encodeURIComponent(`arn:aws:iam::${ACCOUNT}:role/xml`)}&RoleSessionName=s1&ExternalId=x`)
    assert.match(external.text, /Value &apos;x&apos; at &apos;externalId&apos; failed to satisfy constraint: Member must have length greater than or equal to 2/)
    for (const name of ['p1', 'p2']) await query('iam', `Action=DeleteRolePolicy&Version=2010-05-08&RoleName=xml&PolicyName=${name}`)
    assert.equal((await query('iam', 'Action=DeleteRole&Version=2010-05-08&RoleName=xml')).status, 200)
  })

  it('refuses a malformed identity policy', async () => {
    await aws(['iam', 'create-user', '--user-name', 'bob'])
    assert.match(await awsFails(['iam', 'put-user-policy', '--user-name', 'bob', '--policy-name', 'p', '--policy-document', '{"Statement":5}']), /MalformedPolicyDocument/)
    assert.match(await awsFails(['iam', 'put-user-policy', '--user-name', 'nobody', '--policy-name', 'p', '--policy-document', policy({ Effect: 'Allow', Action: 'kms:*', Resource: '*' })]), /NoSuchEntity/)
    await aws(['iam', 'delete-user', '--user-name', 'bob'])
  })
})
