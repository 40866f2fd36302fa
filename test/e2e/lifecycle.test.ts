import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyPolicyCommand,
  KMSClient,
  ListKeyPoliciesCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateKeyDescriptionCommand,
} from '@aws-sdk/client-kms'
import { ACCOUNT, awsCli, kmsClient, rejectsWithKmsError, startTestServer, tempDataDir, type TestServer } from './harness.js'

const rejects = rejectsWithKmsError

describe('key lifecycle: enable, disable, description, tags, key policies', () => {
  const data = tempDataDir()
  let server: TestServer
  let kms: KMSClient

  async function newKey(input: ConstructorParameters<typeof CreateKeyCommand>[0] = {}): Promise<{ id: string; arn: string }> {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand(input))
    return { id: KeyMetadata!.KeyId!, arn: KeyMetadata!.Arn! }
  }

  async function cli(...args: string[]): Promise<string> {
    const r = await awsCli(server.url, data.dir, args)
    assert.equal(r.code, 0, `aws kms ${args.join(' ')} exited ${r.code}:
${r.stderr}`)
    return r.stdout
  }

  before(async () => {
    server = await startTestServer(data.dir)
    kms = kmsClient(server.url)
  })
  after(async () => {
    kms?.destroy()
    await server?.stop()
    data.cleanup()
  })

  it('DisableKey makes cryptographic operations answer DisabledException; EnableKey restores them', async () => {
    const key = await newKey()
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: key.id, Plaintext: Buffer.from('x') }))
    await kms.send(new DisableKeyCommand({ KeyId: key.id }))
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: key.id }))
    assert.equal(KeyMetadata!.KeyState, 'Disabled')
    assert.equal(KeyMetadata!.Enabled, false)
    await rejects(kms.send(new EncryptCommand({ KeyId: key.id, Plaintext: Buffer.from('x') })), 'DisabledException', `${key.arn} is disabled.`)
    await rejects(kms.send(new DecryptCommand({ CiphertextBlob })), 'DisabledException', `${key.arn} is disabled.`)
    await rejects(kms.send(new GenerateDataKeyCommand({ KeyId: key.id, KeySpec: 'AES_256' })), 'DisabledException')
    // Disabling twice is allowed, as in AWS.
    await kms.send(new DisableKeyCommand({ KeyId: key.arn }))
    await kms.send(new EnableKeyCommand({ KeyId: key.arn }))
    const after = await kms.send(new DescribeKeyCommand({ KeyId: key.id }))
    assert.equal(after.KeyMetadata!.KeyState, 'Enabled')
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob }))
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'x')
  })

  it('EnableKey and DisableKey want a key id or ARN and an existing key', async () => {
    await rejects(kms.send(new EnableKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000' })), 'NotFoundException', /does not exist/)
    await rejects(kms.send(new DisableKeyCommand({ KeyId: 'alias/whatever' })), 'NotFoundException')
  })

  it('UpdateKeyDescription changes the description, up to 8192 characters', async () => {
    const key = await newKey({ Description: 'before' })
    await kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.id, Description: 'after' }))
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: key.id }))).KeyMetadata!.Description, 'after')
    await kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.id, Description: '' }))
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: key.id }))).KeyMetadata!.Description, '')
    await rejects(kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.id, Description: 'd'.repeat(8193) })), 'ValidationException', /description.*less than or equal to 8192/)
  })

  it('TagResource adds and overwrites tags, UntagResource removes them, ListResourceTags pages them', async () => {
    const key = await newKey({ Tags: [{ TagKey: 'env', TagValue: 'dev' }] })
    await kms.send(new TagResourceCommand({ KeyId: key.id, Tags: [{ TagKey: 'env', TagValue: 'prod' }, { TagKey: 'team', TagValue: '' }] }))
    const { Tags, Truncated } = await kms.send(new ListResourceTagsCommand({ KeyId: key.arn }))
    assert.deepEqual(Tags, [{ TagKey: 'env', TagValue: 'prod' }, { TagKey: 'team', TagValue: '' }])
    assert.equal(Truncated, false)
    for (let i = 0; i < 5; i++) await kms.send(new TagResourceCommand({ KeyId: key.id, Tags: [{ TagKey: `k${i}`, TagValue: `v${i}` }] }))
    const seen: string[] = []
    let marker: string | undefined
    do {
      const page = await kms.send(new ListResourceTagsCommand({ KeyId: key.id, Limit: 3, ...(marker ? { Marker: marker } : {}) }))
      seen.push(...page.Tags!.map((t) => t.TagKey!))
      marker = page.NextMarker
      assert.equal(page.Truncated, marker !== undefined)
    } while (marker)
    assert.deepEqual(seen, ['env', 'team', 'k0', 'k1', 'k2', 'k3', 'k4'])
    await kms.send(new UntagResourceCommand({ KeyId: key.id, TagKeys: ['env', 'k0', 'absent'] }))
    const left = await kms.send(new ListResourceTagsCommand({ KeyId: key.id }))
    assert.deepEqual(left.Tags!.map((t) => t.TagKey), ['team', 'k1', 'k2', 'k3', 'k4'])
    await rejects(kms.send(new ListResourceTagsCommand({ KeyId: key.id, Marker: 'bogus' })), 'InvalidMarkerException')
  })

  it('tag rules: aws: prefix reserved, duplicates refused, at most 50 tags, key and value lengths', async () => {
    const key = await newKey()
    await rejects(kms.send(new TagResourceCommand({ KeyId: key.id, Tags: [{ TagKey: 'AWS:x', TagValue: 'y' }] })), 'TagException', 'Tags beginning with aws: are reserved')
    await rejects(
      kms.send(new TagResourceCommand({ KeyId: key.id, Tags: [{ TagKey: 'a', TagValue: '1' }, { TagKey: 'a', TagValue: '2' }] })),
      'TagException',
      'Duplicate tag keys',
    )
    const fifty = Array.from({ length: 50 }, (_, i) => ({ TagKey: `t${i}`, TagValue: 'v' }))
    await kms.send(new TagResourceCommand({ KeyId: key.id, Tags: fifty }))
    await rejects(kms.send(new TagResourceCommand({ KeyId: key.id, Tags: [{ TagKey: 'one-more', TagValue: 'v' }] })), 'TagException', 'Too many tags')
    // Overwriting an existing tag at the limit is fine.
    await kms.send(new TagResourceCommand({ KeyId: key.id, Tags: [{ TagKey: 't0', TagValue: 'w' }] }))
    await rejects(
      kms.send(new TagResourceCommand({ KeyId: key.id, Tags: [{ TagKey: 'k'.repeat(129), TagValue: 'v' }] })),
      'ValidationException',
      /'tags\.1\.member\.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128/,
    )
    await rejects(
      kms.send(new TagResourceCommand({ KeyId: key.id, Tags: [{ TagKey: 'k', TagValue: 'v'.repeat(257) }] })),
      'ValidationException',
      /'tags\.1\.member\.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256/,
    )
    assert.equal((await kms.send(new ListResourceTagsCommand({ KeyId: key.id }))).Tags!.length, 50)
  })

  it('a key created without a policy has the AWS default key policy, named "default"', async () => {
    const key = await newKey()
    const { Policy, PolicyName } = await kms.send(new GetKeyPolicyCommand({ KeyId: key.id }))
    assert.equal(PolicyName, 'default')
    assert.deepEqual(JSON.parse(Policy!), {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
    })
    const list = await kms.send(new ListKeyPoliciesCommand({ KeyId: key.arn }))
    assert.deepEqual(list.PolicyNames, ['default'])
    assert.equal(list.Truncated, false)
    await rejects(kms.send(new GetKeyPolicyCommand({ KeyId: key.id, PolicyName: 'other' })), 'NotFoundException')
  })

  it('CreateKey and PutKeyPolicy store the policy exactly as given, and refuse malformed ones', async () => {
    const text = '{ "Version": "2012-10-17",\n  "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}] }'
    const key = await newKey({ Policy: text })
    assert.equal((await kms.send(new GetKeyPolicyCommand({ KeyId: key.id }))).Policy, text)
    const next = text.replace('"Effect": "Allow"', '"Sid": "v2", "Effect": "Allow"')
    await kms.send(new PutKeyPolicyCommand({ KeyId: key.id, Policy: next, PolicyName: 'default' }))
    assert.equal((await kms.send(new GetKeyPolicyCommand({ KeyId: key.id }))).Policy, next)
    await rejects(kms.send(new PutKeyPolicyCommand({ KeyId: key.id, Policy: '{"Statement": []}' })), 'MalformedPolicyDocumentException')
    await rejects(kms.send(new PutKeyPolicyCommand({ KeyId: key.id, Policy: 'nope' })), 'MalformedPolicyDocumentException')
    const big = JSON.stringify({ Statement: { Sid: 'x'.repeat(33_000), Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' } })
    await rejects(kms.send(new PutKeyPolicyCommand({ KeyId: key.id, Policy: big })), 'LimitExceededException')
    // A refused policy changes nothing.
    assert.equal((await kms.send(new GetKeyPolicyCommand({ KeyId: key.id }))).Policy, next)
  })

  it('the AWS CLI tags, untags, updates descriptions and reads policies', async () => {
    const key = await newKey()
    await cli('tag-resource', '--key-id', key.id, '--tags', 'TagKey=owner,TagValue=cli')
    assert.deepEqual(JSON.parse(await cli('list-resource-tags', '--key-id', key.id)).Tags, [{ TagKey: 'owner', TagValue: 'cli' }])
    await cli('update-key-description', '--key-id', key.id, '--description', 'from cli')
    await cli('disable-key', '--key-id', key.id)
    const described = JSON.parse(await cli('describe-key', '--key-id', key.id)).KeyMetadata
    assert.equal(described.Description, 'from cli')
    assert.equal(described.KeyState, 'Disabled')
    const policy = JSON.parse(await cli('get-key-policy', '--key-id', key.id, '--policy-name', 'default'))
    assert.equal(JSON.parse(policy.Policy).Id, 'key-default-1')
    const scheduled = JSON.parse(await cli('schedule-key-deletion', '--key-id', key.arn, '--pending-window-in-days', '7'))
    assert.equal(scheduled.KeyId, key.arn)
    assert.equal(scheduled.KeyState, 'PendingDeletion')
    assert.equal(scheduled.PendingWindowInDays, 7)
    assert.equal(JSON.parse(await cli('cancel-key-deletion', '--key-id', key.id)).KeyId, key.arn)
    await cli('enable-key', '--key-id', key.id)
    assert.equal(JSON.parse(await cli('describe-key', '--key-id', key.id)).KeyMetadata.KeyState, 'Enabled')
  })
})
