import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  GenerateDataKeyCommand,
  ListGrantsCommand,
  ReEncryptCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EncryptCommand,
  KMSClient,
  ListKeysCommand,
  PutKeyPolicyCommand,
  TagResourceCommand,
} from '@aws-sdk/client-kms'
import { ACCOUNT, CLI, REGION, kmsClient, rejectsWithKmsError as rejects, startTestServer, tempDataDir, type TestServer } from './harness.js'

const run = promisify(execFile)
const B = '444455556666'
const A_ROOT = `arn:aws:iam::${ACCOUNT}:root`
const B_ROOT = `arn:aws:iam::${B}:root`

/** The access key of one profile of an AWS shared-credentials file. */
function profile(text: string, name: string): { accessKeyId: string; secretAccessKey: string } {
  const section = text.split(/^\[/m).find((s) => s.startsWith(`${name}]`))
  assert.ok(section, `no profile ${name} in:\n${text}`)
  const value = (k: string) => new RegExp(`^${k} = (\\S+)$`, 'm').exec(section)?.[1]
  return { accessKeyId: value('aws_access_key_id')!, secretAccessKey: value('aws_secret_access_key')! }
}

describe('a second account (trent admin create-account) and cross-account key use', () => {
  const data = tempDataDir()
  let server: TestServer
  let kmsA: KMSClient
  let kmsB: KMSClient
  let credentialsFile: string

  before(async () => {
    server = await startTestServer(data.dir)
    kmsA = kmsClient(server.url)
    credentialsFile = join(data.dir, 'b-credentials')
    // The server keeps running: the admin command is a second process on the same store.
    const { stdout } = await run(process.execPath, [CLI, 'admin', 'create-account', '--account-id', B, '--data-dir', data.dir, '--credentials-file', credentialsFile])
    assert.match(stdout, /account 444455556666 created/)
    kmsB = kmsClient(server.url, profile(readFileSync(credentialsFile, 'utf8'), B))
  })
  after(async () => {
    kmsA?.destroy()
    kmsB?.destroy()
    await server?.stop()
    data.cleanup()
  })

  it('writes the credentials privately and refuses an account that exists or a file that exists', async () => {
    assert.equal(statSync(credentialsFile).mode & 0o777, 0o600)
    await assert.rejects(run(process.execPath, [CLI, 'admin', 'create-account', '--account-id', B, '--data-dir', data.dir]), /already has credentials/)
    await assert.rejects(run(process.execPath, [CLI, 'admin', 'create-account', '--account-id', ACCOUNT, '--data-dir', data.dir]), /already has credentials/)
    const existing = join(data.dir, 'existing')
    writeFileSync(existing, 'keep me')
    await assert.rejects(run(process.execPath, [CLI, 'admin', 'create-account', '--account-id', '777788889999', '--data-dir', data.dir, '--credentials-file', existing]), /not overwriting/)
    assert.equal(readFileSync(existing, 'utf8'), 'keep me')
    // No server has initialised this data dir: nothing to add an account to.
    const empty = tempDataDir()
    try {
      await assert.rejects(run(process.execPath, [CLI, 'admin', 'create-account', '--account-id', '777788889999', '--data-dir', empty.dir]), /no Trent data/)
    } finally {
      empty.cleanup()
    }
    // Without a file the credentials go to stdout, in a profile named after the account.
    const { stdout } = await run(process.execPath, [CLI, 'admin', 'create-account', '--account-id', '777788889999', '--data-dir', data.dir])
    const c = profile(stdout, '777788889999')
    assert.match(c.accessKeyId, /^AKIA[A-Z2-7]{16}$/)
    const kmsC = kmsClient(server.url, c)
    try {
      assert.deepEqual((await kmsC.send(new ListKeysCommand({}))).Keys, [])
    } finally {
      kmsC.destroy()
    }
  })

  it('account B uses account A\'s key by ARN only once the key policy allows it, and never manages it', async () => {
    const meta = (await kmsA.send(new CreateKeyCommand({}))).KeyMetadata!
    const arn = meta.Arn!
    const keyId = meta.KeyId!
    const blob = (await kmsA.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('from A') }))).CiphertextBlob!

    // The default key policy trusts only account A.
    await rejects(
      kmsB.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') })),
      'AccessDeniedException',
      `User: ${B_ROOT} is not authorized to perform: kms:Encrypt on resource: ${arn} because no resource-based policy allows the kms:Encrypt action`,
    )
    await rejects(kmsB.send(new DecryptCommand({ CiphertextBlob: blob })), 'AccessDeniedException')
    await rejects(kmsB.send(new DescribeKeyCommand({ KeyId: arn })), 'AccessDeniedException')

    // Even actions the policy grants B are not reachable across accounts when AWS does not allow them.
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: A_ROOT }, Action: 'kms:*', Resource: '*' },
        {
          Sid: 'Account B',
          Effect: 'Allow',
          Principal: { AWS: B_ROOT },
          Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:DescribeKey', 'kms:DisableKey', 'kms:PutKeyPolicy', 'kms:TagResource'],
          Resource: '*',
        },
      ],
    }
    await kmsA.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: JSON.stringify(policy) }))

    const own = (await kmsB.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('from B') })))
    assert.equal(own.KeyId, arn)
    const decrypted = await kmsB.send(new DecryptCommand({ CiphertextBlob: own.CiphertextBlob! }))
    assert.equal(Buffer.from(decrypted.Plaintext!).toString(), 'from B')
    assert.equal(decrypted.KeyId, arn)
    assert.equal(Buffer.from((await kmsB.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString(), 'from A')
    assert.equal((await kmsB.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!.AWSAccountId, ACCOUNT)

    // Management operations answer as if the key did not exist in B's account.
    const missing = `Key 'arn:aws:kms:${REGION}:${B}:key/${keyId}' does not exist`
    await rejects(kmsB.send(new DisableKeyCommand({ KeyId: arn })), 'NotFoundException', missing)
    await rejects(kmsB.send(new PutKeyPolicyCommand({ KeyId: arn, Policy: JSON.stringify(policy) })), 'NotFoundException', missing)
    await rejects(kmsB.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: 'k', TagValue: 'v' }] })), 'NotFoundException', missing)
    // A key id (not an ARN) always means the caller's own account.
    await rejects(kmsB.send(new DescribeKeyCommand({ KeyId: keyId })), 'NotFoundException', missing)
    await rejects(kmsB.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })), 'NotFoundException', missing)

    const listed = (await kmsB.send(new ListKeysCommand({}))).Keys ?? []
    assert.ok(!listed.some((k) => k.KeyId === keyId), JSON.stringify(listed))
    assert.ok((await kmsA.send(new ListKeysCommand({}))).Keys!.some((k) => k.KeyId === keyId))
    // Nothing B tried changed the key.
    const after = (await kmsA.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!
    assert.equal(after.KeyState, 'Enabled')
  })

  it('B uses A\'s key by alias ARN, re-encrypts and grants across accounts; an alias name means B\'s own account', async () => {
    const meta = (await kmsA.send(new CreateKeyCommand({}))).KeyMetadata!
    const alias = `alias/shared-${Date.now()}`
    await kmsA.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: meta.KeyId! }))
    const statement = {
      Effect: 'Allow',
      Principal: { AWS: B },
      Action: ['kms:GenerateDataKey', 'kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:CreateGrant', 'kms:ListGrants'],
      Resource: '*',
    }
    await kmsA.send(new PutKeyPolicyCommand({
      KeyId: meta.KeyId!,
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: A_ROOT }, Action: 'kms:*', Resource: '*' }, statement] }),
    }))
    const aliasArn = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/${alias.slice(6)}`
    const dk = await kmsB.send(new GenerateDataKeyCommand({ KeyId: aliasArn, KeySpec: 'AES_256' }))
    assert.equal(dk.KeyId, meta.Arn)
    await rejects(
      kmsB.send(new GenerateDataKeyCommand({ KeyId: alias, KeySpec: 'AES_256' })),
      'NotFoundException',
      `Alias arn:aws:kms:${REGION}:${B}:${alias} is not found.`,
    )
    // ReEncrypt from A's key into a key of B's own.
    const bKey = (await kmsB.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
    const re = await kmsB.send(new ReEncryptCommand({ CiphertextBlob: dk.CiphertextBlob!, DestinationKeyId: bKey }))
    assert.equal(re.SourceKeyId, meta.Arn)
    assert.equal(re.KeyId, bKey)
    const back = await kmsB.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob! }))
    assert.deepEqual(Buffer.from(back.Plaintext!), Buffer.from(dk.Plaintext!))

    const grant = await kmsB.send(new CreateGrantCommand({ KeyId: meta.Arn!, GranteePrincipal: B_ROOT, Operations: ['Encrypt'] }))
    const grants = (await kmsB.send(new ListGrantsCommand({ KeyId: meta.Arn! }))).Grants!
    assert.ok(grants.some((g) => g.GrantId === grant.GrantId))
  })

  it('a key B owns is B\'s alone unless its policy says otherwise', async () => {
    const arn = (await kmsB.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
    assert.match(arn, new RegExp(`^arn:aws:kms:${REGION}:${B}:key/`))
    await rejects(kmsA.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') })), 'AccessDeniedException')
    await kmsB.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }))
  })
})
