import assert from 'node:assert/strict'
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { CreateKeyCommand, EncryptCommand, KMSServiceException, type KMSClient } from '@aws-sdk/client-kms'
import { PgAdmin, pgSkip, pgUrl } from '../contract/pg-test-db.js'
import { ACCOUNT, policy, awsCliFor, kmsClient, startTestServer, tempDataDir, type TestServer } from './harness.js'

/** Node B caches key metadata and user policies this long: only a notification can make it see A's change in time. */
const B_CACHE_TTL_MS = 600_000
/** How soon a credential or policy change made through A must be honoured by B. */
const BOUND_MS = 1000
const PLAINTEXT = new TextEncoder().encode('iam on every node')

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string }

/** The AWS error name `send()` fails with, or undefined when it succeeds. */
async function failure(send: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await send()
    return undefined
  } catch (e) {
    if (e instanceof KMSServiceException) return e.name
    throw e
  }
}

/** Polls until `send()` fails with `name`; resolves to how long that took after `since`. */
async function failsWithin(send: () => Promise<unknown>, name: string, since: number): Promise<number> {
  for (;;) {
    const got = await failure(send)
    if (got !== undefined) {
      assert.equal(got, name)
      return Date.now() - since
    }
    if (Date.now() - since > BOUND_MS) assert.fail(`still accepted ${Date.now() - since} ms after the change`)
    await sleep(10)
  }
}

describe('Trent on PostgreSQL', { skip: pgSkip() }, () => {
  describe('IAM changes made through one node are honoured by every node (LISTEN/NOTIFY)', () => {
    const home = mkdtempSync(join(tmpdir(), 'trent-aws-home-'))
    const dirs = [tempDataDir(), tempDataDir()]
    let admin: PgAdmin
    let a: TestServer | undefined
    let b: TestServer | undefined
    let keyId: string
    const clients: KMSClient[] = []

    before(async () => {
      const url = pgUrl()
      admin = new PgAdmin(url)
      const dbUrl = await admin.createDatabase(url, 'trent_iam_multinode')
      a = await startTestServer(dirs[0]!.dir, { TRENT_STORE_URL: dbUrl })
      copyFileSync(join(a.dataDir, 'seal.key'), join(dirs[1]!.dir, 'seal.key'))
      b = await startTestServer(dirs[1]!.dir, { TRENT_STORE_URL: dbUrl, TRENT_CACHE_TTL_MS: String(B_CACHE_TTL_MS) })
      const adminClient = kmsClient(a.url)
      clients.push(adminClient)
      keyId = (await adminClient.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!
    })
    after(async () => {
      for (const c of clients) c.destroy()
      await a?.stop()
      await b?.stop()
      for (const d of dirs) d.cleanup()
      await admin?.cleanup()
      rmSync(home, { recursive: true, force: true })
    })

    async function onA(args: string[]): Promise<any> {
      const r = await awsCliFor(a!.url, home, args)
      assert.equal(r.code, 0, `aws ${args.join(' ')}: ${r.stderr}`)
      return r.stdout.trim() === '' ? undefined : JSON.parse(r.stdout)
    }
    function clientOfB(credentials: Credentials): KMSClient {
      const c = kmsClient(b!.url, credentials as { accessKeyId: string; secretAccessKey: string })
      clients.push(c)
      return c
    }
    async function newUser(name: string): Promise<{ credentials: Credentials; kms: KMSClient }> {
      await onA(['iam', 'create-user', '--user-name', name])
      await onA(['iam', 'put-user-policy', '--user-name', name, '--policy-name', 'use', '--policy-document', policy({ Effect: 'Allow', Action: 'kms:*', Resource: '*' })])
      const k = (await onA(['iam', 'create-access-key', '--user-name', name])).AccessKey
      const credentials = { accessKeyId: k.AccessKeyId, secretAccessKey: k.SecretAccessKey }
      return { credentials, kms: clientOfB(credentials) }
    }
    const encrypt = (kms: KMSClient) => () => kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: PLAINTEXT }))

    it(`refuses on B, within ${BOUND_MS} ms, an access key deleted through A`, async () => {
      const { credentials, kms } = await newUser('leaver')
      // B has the signing key and the user's policies in its caches.
      await encrypt(kms)()
      await encrypt(kms)()
      await onA(['iam', 'delete-access-key', '--user-name', 'leaver', '--access-key-id', credentials.accessKeyId])
      const took = await failsWithin(encrypt(kms), 'UnrecognizedClientException', Date.now())
      assert.ok(took <= BOUND_MS, `took ${took} ms`)
      // The query protocol on B refuses it too, as AWS names it there.
      const r = await awsCliFor(b!.url, home, ['sts', 'get-caller-identity'], credentials)
      assert.notEqual(r.code, 0)
      assert.match(r.stderr, /InvalidClientTokenId/)
    })

    it(`denies on B, within ${BOUND_MS} ms, what a Deny added to a user's policy through A denies`, async () => {
      const { kms } = await newUser('restricted')
      await encrypt(kms)()
      await encrypt(kms)()
      await onA(['iam', 'put-user-policy', '--user-name', 'restricted', '--policy-name', 'no-encrypt', '--policy-document', policy({ Effect: 'Deny', Action: 'kms:Encrypt', Resource: '*' })])
      await failsWithin(encrypt(kms), 'AccessDeniedException', Date.now())
      // Deleting the Deny through A allows again on B.
      await onA(['iam', 'delete-user-policy', '--user-name', 'restricted', '--policy-name', 'no-encrypt'])
      const since = Date.now()
      while ((await failure(encrypt(kms))) !== undefined) {
        assert.ok(Date.now() - since <= BOUND_MS, 'the deleted Deny still denies on B')
        await sleep(10)
      }
    })

    it(`denies on B, within ${BOUND_MS} ms, once a tag a user's identity policy requires is removed through A`, async () => {
      await onA(['iam', 'create-user', '--user-name', 'tagged', '--tags', 'Key=clearance,Value=high'])
      const needsTag = policy({ Effect: 'Allow', Action: 'kms:*', Resource: '*', Condition: { StringEquals: { 'aws:PrincipalTag/clearance': 'high' } } })
      await onA(['iam', 'put-user-policy', '--user-name', 'tagged', '--policy-name', 'use', '--policy-document', needsTag])
      const k = (await onA(['iam', 'create-access-key', '--user-name', 'tagged'])).AccessKey
      const kms = clientOfB({ accessKeyId: k.AccessKeyId, secretAccessKey: k.SecretAccessKey })
      await encrypt(kms)()
      await encrypt(kms)()
      // B holds the user's principal, tags included, with its cached signing key: the change must reach it.
      await onA(['iam', 'untag-user', '--user-name', 'tagged', '--tag-keys', 'clearance'])
      await failsWithin(encrypt(kms), 'AccessDeniedException', Date.now())
    })

    it(`refuses on B, within ${BOUND_MS} ms, the session of a role deleted through A`, async () => {
      const trust = policy({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' })
      await onA(['iam', 'create-role', '--role-name', 'temporary', '--assume-role-policy-document', trust])
      await onA(['iam', 'put-role-policy', '--role-name', 'temporary', '--policy-name', 'use', '--policy-document', policy({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' })])
      const c = (await onA(['sts', 'assume-role', '--role-arn', `arn:aws:iam::${ACCOUNT}:role/temporary`, '--role-session-name', 's1'])).Credentials
      const kms = clientOfB({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken })
      await encrypt(kms)()
      // A role policy change through A counts on B at once (role policies are read per request).
      await onA(['iam', 'put-role-policy', '--role-name', 'temporary', '--policy-name', 'use', '--policy-document', policy({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' })])
      await failsWithin(encrypt(kms), 'AccessDeniedException', Date.now())
      await onA(['iam', 'delete-role-policy', '--role-name', 'temporary', '--policy-name', 'use'])
      await onA(['iam', 'delete-role', '--role-name', 'temporary'])
      await failsWithin(encrypt(kms), 'UnrecognizedClientException', Date.now())
    })
  })
})
