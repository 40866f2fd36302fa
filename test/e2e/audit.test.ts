import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { CreateAliasCommand, CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, GetKeyLastUsageCommand, ReEncryptCommand, type KMSClient } from '@aws-sdk/client-kms'
import { ACCOUNT, CLI, CREDENTIALS, awsCliFor, healthRecovers, kmsClient, rawRequest, rejectsWithKmsError, segmentLines, startTestServer, tempDataDir, type TestServer } from './harness.js'

const run = promisify(execFile)

type Event = Record<string, any>

/** Every record of a data dir's trail, oldest first. */
function records(dataDir: string): Event[] {
  const dir = join(dataDir, 'audit')
  return readdirSync(dir)
    .filter((n) => /^trail-\d+\.jsonl$/.test(n))
    .sort()
    .flatMap((n) => segmentLines(join(dir, n)).map((l) => JSON.parse(l) as Event))
}

const byRequest = (dataDir: string, requestId: string): Event[] => records(dataDir).filter((r) => r.event.requestID === requestId).map((r) => r.event)

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args])
    return { code: 0, stdout, stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

describe('audit trail end to end', () => {
  const data = tempDataDir()
  const failFile = join(data.dir, 'fail-audit-writes')
  let server: TestServer
  let kms: KMSClient
  let keyId: string

  before(async () => {
    server = await startTestServer(data.dir, { TRENT_TEST_AUDIT_FAIL_FILE: failFile })
    kms = kmsClient(server.url)
    keyId = (await kms.send(new CreateKeyCommand({ Description: 'audited' }))).KeyMetadata!.KeyId!
  })
  after(async () => {
    await server.stop()
    data.cleanup()
  })

  it('writes exactly one CloudTrail-shaped record per request, before the response', async () => {
    const plaintext = Buffer.from('top secret plaintext 0123456789')
    const out = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: { purpose: 'audit-test' } }))
    const requestId = out.$metadata.requestId!
    const [event, ...more] = byRequest(data.dir, requestId)
    assert.equal(more.length, 0)
    assert.ok(event)
    const { eventVersion, eventSource, eventName, awsRegion, eventType, eventCategory, managementEvent, readOnly, recipientAccountId } = event
    assert.deepEqual(
      { eventVersion, eventSource, eventName, awsRegion, eventType, eventCategory, managementEvent, readOnly, recipientAccountId },
      {
        eventVersion: '1.11',
        eventSource: 'kms.amazonaws.com',
        eventName: 'Encrypt',
        awsRegion: 'us-east-1',
        eventType: 'AwsApiCall',
        eventCategory: 'Management',
        managementEvent: true,
        readOnly: true,
        recipientAccountId: ACCOUNT,
      },
    )
    assert.match(event.eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    assert.match(event.eventID, /^[0-9a-f-]{36}$/)
    assert.match(event.userAgent, /aws-sdk-js/)
    assert.equal(event.sourceIPAddress, '127.0.0.1')
    assert.deepEqual(event.userIdentity, {
      type: 'Root',
      principalId: ACCOUNT,
      arn: `arn:aws:iam::${ACCOUNT}:root`,
      accountId: ACCOUNT,
      accessKeyId: CREDENTIALS.accessKeyId,
    })
    assert.deepEqual(event.requestParameters, { keyId, encryptionContext: { purpose: 'audit-test' }, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' })
    assert.equal(event.responseElements, null)
    assert.deepEqual(event.resources, [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}` }])

    // Decrypt and GenerateDataKey: nothing secret in the trail.
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob!, EncryptionContext: { purpose: 'audit-test' } }))
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }))
    const text = readdirSync(join(data.dir, 'audit')).map((n) => readFileSync(join(data.dir, 'audit', n), 'latin1')).join('')
    for (const secret of [plaintext, Buffer.from(out.CiphertextBlob!), Buffer.from(dk.Plaintext!), Buffer.from(dk.CiphertextBlob!)]) {
      assert.equal(text.includes(secret.toString('base64')), false)
      assert.equal(text.includes(secret.toString('hex')), false)
    }
    assert.equal(text.includes(CREDENTIALS.secretAccessKey), false)
    assert.equal(byRequest(data.dir, dec.$metadata.requestId!)[0]!.requestParameters.encryptionAlgorithm, 'SYMMETRIC_DEFAULT')
    assert.deepEqual(byRequest(data.dir, dk.$metadata.requestId!)[0]!.requestParameters, { keyId, keySpec: 'AES_256' })
  })

  it('CreateKey logs its keyMetadata in responseElements', async () => {
    const out = await kms.send(new CreateKeyCommand({ Description: 'second', Tags: [{ TagKey: 'team', TagValue: 'blue' }] }))
    const [event] = byRequest(data.dir, out.$metadata.requestId!)
    assert.equal(event!.readOnly, false)
    assert.deepEqual(event!.requestParameters, { description: 'second', tags: [{ TagKey: 'team', TagValue: 'blue' }] })
    assert.equal(event!.responseElements.keyMetadata.keyId, out.KeyMetadata!.KeyId)
    assert.equal(event!.responseElements.keyMetadata.keyState, 'Enabled')
  })

  it('records failed, denied and unauthenticated requests with their error code', async () => {
    const before = records(data.dir).length
    const bad = await rawRequest(server.url, { target: 'Encrypt', body: JSON.stringify({ KeyId: 'alias/none', Plaintext: 'AA==' }) })
    assert.equal(bad.status, 400)
    const [notFound] = byRequest(data.dir, bad.headers.get('x-amzn-requestid')!)
    assert.equal(notFound!.errorCode, 'NotFoundException')
    assert.match(notFound!.errorMessage, /is not found/)
    assert.equal(notFound!.userIdentity.type, 'Root')

    const unsigned = await rawRequest(server.url, { target: 'ListKeys', sign: false })
    assert.equal(unsigned.status, 400)
    const [anonymous] = byRequest(data.dir, unsigned.headers.get('x-amzn-requestid')!)
    assert.equal(anonymous!.errorCode, 'MissingAuthenticationTokenException')
    assert.deepEqual(anonymous!.userIdentity, { type: 'Unknown' })
    assert.equal(anonymous!.eventName, 'ListKeys')

    const stranger = await rawRequest(server.url, { target: 'ListKeys', credentials: { accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'x'.repeat(40) } })
    const [unknown] = byRequest(data.dir, stranger.headers.get('x-amzn-requestid')!)
    assert.equal(unknown!.errorCode, 'UnrecognizedClientException')
    assert.deepEqual(unknown!.userIdentity, { type: 'Unknown', accessKeyId: 'AKIAUNKNOWNUNKNOWN00' })
    assert.equal(records(data.dir).length, before + 3)
  })

  it('fails closed while the trail cannot be written, reports it on /health, and recovers by itself', async () => {
    writeFileSync(failFile, '')
    await rejectsWithKmsError(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })), 'KMSInternalException')
    const health = await fetch(`${server.url}/health`)
    assert.equal(health.status, 503)
    assert.match((await health.json() as { reason: string }).reason, /ENOSPC/)
    // The server stays responsive: later requests are refused at once.
    await rejectsWithKmsError(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('y') })), 'KMSInternalException')
    rmSync(failFile)
    await healthRecovers(server.url)
    const out = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('z') }))
    assert.equal(byRequest(data.dir, out.$metadata.requestId!).length, 1)
    // The refused requests were recorded too, once the disk worked again.
    const refused = records(data.dir).filter((r) => r.event.errorCode === 'KMSInternalException' || r.event.additionalEventData?.responseReplacedBy)
    assert.equal(refused.length, 2)
  })

  it('TrentAdmin.LookupEvents: the account root reads its own account\'s events, newest first, in pages', async () => {
    const LOOKUP = { 'x-amz-target': 'TrentAdmin.LookupEvents' }
    const encrypts = []
    for (let i = 0; i < 3; i++) encrypts.push((await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('p') }))).$metadata.requestId!)
    const page1 = await rawRequest(server.url, {
      headers: LOOKUP,
      body: JSON.stringify({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'Encrypt' }, { AttributeKey: 'ResourceName', AttributeValue: keyId }], MaxResults: 2 }),
    })
    assert.equal(page1.status, 200, JSON.stringify(page1.body))
    const events = page1.body.Events as Array<Record<string, any>>
    assert.equal(events.length, 2)
    assert.deepEqual(events.map((e) => JSON.parse(e.CloudTrailEvent).requestID), [encrypts[2], encrypts[1]])
    assert.equal(events[0]!.EventName, 'Encrypt')
    assert.equal(events[0]!.ReadOnly, 'true')
    assert.equal(events[0]!.Username, 'root')
    assert.equal(events[0]!.AccessKeyId, CREDENTIALS.accessKeyId)
    assert.equal(typeof events[0]!.EventTime, 'number')
    assert.deepEqual(events[0]!.Resources, [{ ResourceType: 'AWS::KMS::Key', ResourceName: `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}` }])
    assert.ok(page1.body.NextToken)
    const page2 = await rawRequest(server.url, {
      headers: LOOKUP,
      body: JSON.stringify({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'Encrypt' }], MaxResults: 1, NextToken: page1.body.NextToken }),
    })
    assert.equal(JSON.parse(page2.body.Events[0].CloudTrailEvent).requestID, encrypts[0])

    // Another account's root sees none of these.
    const file = join(data.dir, 'b-credentials')
    await run(process.execPath, [CLI, 'admin', 'create-account', '--account-id', '444455556666', '--data-dir', data.dir, '--credentials-file', file])
    const text = readFileSync(file, 'utf8')
    const other = { accessKeyId: /aws_access_key_id = (\S+)/.exec(text)![1]!, secretAccessKey: /aws_secret_access_key = (\S+)/.exec(text)![1]! }
    const theirs = await rawRequest(server.url, { headers: LOOKUP, credentials: other, body: JSON.stringify({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'Encrypt' }] }) })
    assert.equal(theirs.status, 200)
    assert.deepEqual(theirs.body.Events, [])

    const badKey = await rawRequest(server.url, { headers: LOOKUP, body: JSON.stringify({ LookupAttributes: [{ AttributeKey: 'Nope', AttributeValue: 'x' }] }) })
    assert.equal(badKey.status, 400)
    assert.equal(badKey.body.__type, 'ValidationException')
    // CloudTrail's answers: model constraints are ValidationExceptions, the rest its own exceptions.
    const tooMany = await rawRequest(server.url, { headers: LOOKUP, body: JSON.stringify({ MaxResults: 51 }) })
    assert.equal(tooMany.body.__type, 'ValidationException')
    assert.match(String(tooMany.body.Message), /'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50/)
    const backwards = await rawRequest(server.url, { headers: LOOKUP, body: JSON.stringify({ StartTime: 2_000_000_000, EndTime: 1_000_000_000 }) })
    assert.equal(backwards.body.__type, 'InvalidTimeRangeException')
    const badToken = await rawRequest(server.url, { headers: LOOKUP, body: JSON.stringify({ NextToken: 'not a token' }) })
    assert.equal(badToken.body.__type, 'InvalidNextTokenException')
  })

  it('GetKeyLastUsage: the last successful cryptographic use with its eventID and request id, kept across a restart', async () => {
    const fresh = await kms.send(new CreateKeyCommand({}))
    const freshId = fresh.KeyMetadata!.KeyId!
    const unused = await kms.send(new GetKeyLastUsageCommand({ KeyId: freshId }))
    assert.equal(unused.KeyId, freshId)
    assert.deepEqual(unused.KeyLastUsage ?? {}, {})
    assert.equal(unused.KeyCreationDate?.getTime(), fresh.KeyMetadata!.CreationDate!.getTime())
    assert.equal(unused.TrackingStartDate?.getTime(), fresh.KeyMetadata!.CreationDate!.getTime())

    const enc = await kms.send(new EncryptCommand({ KeyId: freshId, Plaintext: Buffer.from('use') }))
    // A failed use does not count.
    await rejectsWithKmsError(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob!, EncryptionContext: { wrong: 'context' } })), 'InvalidCiphertextException')
    const used = await kms.send(new GetKeyLastUsageCommand({ KeyId: fresh.KeyMetadata!.Arn! }))
    const [encEvent] = byRequest(data.dir, enc.$metadata.requestId!)
    assert.equal(used.KeyLastUsage?.Operation, 'Encrypt')
    assert.equal(used.KeyLastUsage?.KmsRequestId, enc.$metadata.requestId)
    assert.equal(used.KeyLastUsage?.CloudTrailEventId, encEvent!.eventID)
    assert.ok(Math.abs(used.KeyLastUsage!.Timestamp!.getTime() - Date.parse(encEvent!.eventTime)) < 2000)

    // ReEncrypt uses both keys.
    const re = await kms.send(new ReEncryptCommand({ CiphertextBlob: enc.CiphertextBlob!, DestinationKeyId: keyId }))
    for (const k of [freshId, keyId]) {
      const u = await kms.send(new GetKeyLastUsageCommand({ KeyId: k }))
      assert.equal(u.KeyLastUsage?.Operation, 'ReEncrypt')
      assert.equal(u.KeyLastUsage?.KmsRequestId, re.$metadata.requestId)
    }
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/last-usage', TargetKeyId: freshId }))
    await rejectsWithKmsError(kms.send(new GetKeyLastUsageCommand({ KeyId: 'alias/last-usage' })), 'NotFoundException')

    // Durable: written through the store, so it survives a restart.
    await server.stop()
    server = await startTestServer(data.dir, { TRENT_TEST_AUDIT_FAIL_FILE: failFile })
    kms = kmsClient(server.url)
    const after = await kms.send(new GetKeyLastUsageCommand({ KeyId: freshId }))
    assert.equal(after.KeyLastUsage?.KmsRequestId, re.$metadata.requestId)
    const [event] = byRequest(data.dir, after.$metadata.requestId!)
    assert.deepEqual(event!.requestParameters, { keyId: freshId })
    assert.equal(event!.readOnly, true)
  })

  it('records IAM and STS requests without secrets; IAMUser and AssumedRole identities; LookupEvents refused to an IAM user', async () => {
    const home = mkdtempSync(join(tmpdir(), 'trent-aws-home-'))
    writeFileSync(join(home, 'config'), '')
    writeFileSync(join(home, 'credentials'), '')
    try {
      const aws = async (args: string[]) => {
        const r = await awsCliFor(server.url, home, args)
        assert.equal(r.code, 0, r.stderr)
        return r.stdout.trim() === '' ? undefined : JSON.parse(r.stdout)
      }
      await aws(['iam', 'create-user', '--user-name', 'auditor'])
      await aws(['iam', 'put-user-policy', '--user-name', 'auditor', '--policy-name', 'all', '--policy-document', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] })])
      const key = (await aws(['iam', 'create-access-key', '--user-name', 'auditor'])).AccessKey
      const all = records(data.dir).map((r) => r.event)
      const created = all.find((e) => e.eventName === 'CreateAccessKey')!
      assert.equal(created.eventSource, 'iam.amazonaws.com')
      assert.deepEqual(created.requestParameters, { userName: 'auditor' })
      assert.equal(JSON.stringify(all).includes(key.SecretAccessKey), false)

      const user = { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey }
      const denied = await rawRequest(server.url, { headers: { 'x-amz-target': 'TrentAdmin.LookupEvents' }, credentials: user, body: '{}' })
      assert.equal(denied.status, 400)
      assert.equal(denied.body.__type, 'AccessDeniedException')
      const [event] = byRequest(data.dir, denied.headers.get('x-amzn-requestid')!)
      assert.equal(event!.errorCode, 'AccessDeniedException')
      assert.equal(event!.userIdentity.type, 'IAMUser')
      assert.equal(event!.userIdentity.userName, 'auditor')
      assert.equal(event!.userIdentity.accessKeyId, key.AccessKeyId)
      assert.match(event!.userIdentity.principalId, /^AIDA/)

      // A role session: AssumeRole is an STS event without the credentials; the session's requests are AssumedRole.
      const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] })
      const role = (await aws(['iam', 'create-role', '--role-name', 'audited', '--assume-role-policy-document', trust])).Role
      await aws(['iam', 'put-role-policy', '--role-name', 'audited', '--policy-name', 'kms', '--policy-document', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] })])
      const assumed = await aws(['sts', 'assume-role', '--role-arn', role.Arn, '--role-session-name', 'job-7'])
      const c = assumed.Credentials
      const session = kmsClient(server.url, { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken } as typeof CREDENTIALS)
      const enc = await session.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('as a role') }))
      session.destroy()
      const trail = JSON.stringify(records(data.dir))
      assert.equal(trail.includes(c.SecretAccessKey), false)
      assert.equal(trail.includes(c.SessionToken), false)
      const assumeEvent = records(data.dir).map((r) => r.event).find((e) => e.eventName === 'AssumeRole')!
      assert.equal(assumeEvent.eventSource, 'sts.amazonaws.com')
      assert.deepEqual(assumeEvent.requestParameters, { roleArn: role.Arn, roleSessionName: 'job-7' })
      const [asRole] = byRequest(data.dir, enc.$metadata.requestId!)
      assert.equal(asRole!.userIdentity.type, 'AssumedRole')
      assert.equal(asRole!.userIdentity.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/audited/job-7`)
      assert.equal(asRole!.userIdentity.principalId, `${role.RoleId}:job-7`)
      assert.equal(asRole!.userIdentity.accessKeyId, c.AccessKeyId)
      assert.deepEqual(asRole!.userIdentity.sessionContext.sessionIssuer, { type: 'Role', principalId: role.RoleId, arn: role.Arn, accountId: ACCOUNT, userName: 'audited' })
      assert.match(asRole!.userIdentity.sessionContext.attributes.creationDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    } finally {
      rmSync(home, { recursive: true, force: true })
    }
  })

  it('trent audit verify, query and export', async () => {
    const exported = mkdtempSync(join(tmpdir(), 'trent-audit-export-'))
    try {
      const verified = await cli('audit', 'verify', '--data-dir', data.dir)
      assert.equal(verified.code, 0, verified.stderr)
      assert.match(verified.stdout, /audit trail verified: \d+ records/)
      const q = await cli('audit', 'query', '--data-dir', data.dir, '--event-name', 'Encrypt', '--key', keyId)
      const lines = q.stdout.trim().split('\n').map((l) => JSON.parse(l) as Event)
      assert.ok(lines.length >= 3)
      assert.ok(lines.every((e) => e.eventName === 'Encrypt'))
      const errors = await cli('audit', 'query', '--data-dir', data.dir, '--error-code', 'NotFoundException', '--event-name', 'Encrypt')
      assert.equal(errors.stdout.trim().split('\n').length, 1)
      const ex = await cli('audit', 'export', '--data-dir', data.dir, '--out', join(exported, 'copy'))
      assert.equal(ex.code, 0, ex.stderr)
      assert.ok(existsSync(join(exported, 'copy', 'public-key.pem')))
      const offline = await cli('audit', 'verify', '--trail', join(exported, 'copy'), '--public-key', join(exported, 'copy', 'public-key.pem'))
      assert.equal(offline.code, 0, offline.stderr)
      // One edited byte in the copy: verify fails and names the record.
      const seg = readdirSync(join(exported, 'copy')).find((n) => n.startsWith('trail-'))!
      const path = join(exported, 'copy', seg)
      writeFileSync(path, readFileSync(path, 'utf8').replace('"eventName":"CreateKey"', '"eventName":"CreateKez"'))
      const tampered = await cli('audit', 'verify', '--trail', join(exported, 'copy'))
      assert.equal(tampered.code, 1)
      assert.match(tampered.stderr, /first bad record: \d+ \(trail-\d+\.jsonl line \d+\)/)
    } finally {
      rmSync(exported, { recursive: true, force: true })
    }
  })
})

describe('trent audit prune on a running server', () => {
  const data = tempDataDir()
  let server: TestServer
  after(async () => {
    await server?.stop()
    data.cleanup()
  })

  it('removes sealed segments older than the cutoff while the server writes on; verify --since proves the rest', async () => {
    server = await startTestServer(data.dir, {}, ['--audit-digest-interval', '0.5'])
    const kms = kmsClient(server.url)
    const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
    for (let i = 0; i < 3; i++) await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('old') }))
    // Wait for a digest to seal those records, then cut off everything recorded so far.
    await new Promise((r) => setTimeout(r, 1500))
    const cutoff = new Date(Date.now() + 1000).toISOString()
    await new Promise((r) => setTimeout(r, 1100))
    const newer = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('new') }))

    const dry = await cli('audit', 'prune', '--data-dir', data.dir, '--before', cutoff, '--dry-run')
    assert.equal(dry.code, 0, dry.stderr)
    assert.match(dry.stdout, /would remove [1-9]\d* sealed segments \([1-9]\d* records\)/)
    const pruned = await cli('audit', 'prune', '--data-dir', data.dir, '--before', cutoff)
    assert.equal(pruned.code, 0, pruned.stderr)
    assert.match(pruned.stdout, /removed [1-9]\d* sealed segments/)
    assert.equal(records(data.dir).some((r) => r.event.eventName === 'CreateKey'), false)
    assert.equal(byRequest(data.dir, newer.$metadata.requestId!).length, 1)

    const strict = await cli('audit', 'verify', '--data-dir', data.dir)
    assert.equal(strict.code, 1)
    const since = await cli('audit', 'verify', '--data-dir', data.dir, '--since', cutoff)
    assert.equal(since.code, 0, since.stderr)
    assert.match(since.stdout, /audit trail verified: \d+ records, \d+ signed digests; the \d+ oldest records were pruned/)

    // The server goes on; LookupEvents reads what is left.
    const after = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('after') }))
    const lookup = await rawRequest(server.url, { headers: { 'x-amz-target': 'TrentAdmin.LookupEvents' }, body: JSON.stringify({ MaxResults: 5 }) })
    assert.equal(lookup.status, 200, JSON.stringify(lookup.body))
    assert.ok((lookup.body.Events as Array<{ CloudTrailEvent: string }>).some((e) => JSON.parse(e.CloudTrailEvent).requestID === after.$metadata.requestId))
    await server.stop()
    const final = await cli('audit', 'verify', '--data-dir', data.dir, '--since', cutoff)
    assert.equal(final.code, 0, final.stderr)
  })
})
