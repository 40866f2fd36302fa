import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { CreateKeyCommand, EncryptCommand, PutKeyPolicyCommand, type KMSClient } from '@aws-sdk/client-kms'
import { PgAdmin, pgSkip, pgUrl } from '../contract/pg-test-db.js'
import { ACCOUNT, CLI, kmsClient, startTestServer, tempDataDir, type TestServer } from './harness.js'

const run = promisify(execFile)
const B = '444455556666'

describe('trent admin create-account on PostgreSQL', { skip: pgSkip() }, () => {
  const data = tempDataDir()
  let admin: PgAdmin
  let dbUrl: string
  let server: TestServer
  let kmsA: KMSClient

  before(async () => {
    const url = pgUrl()
    admin = new PgAdmin(url)
    dbUrl = await admin.createDatabase(url, 'trent_accounts')
    server = await startTestServer(data.dir, {}, ['--store', dbUrl])
    kmsA = kmsClient(server.url)
  })
  after(async () => {
    kmsA?.destroy()
    await server?.stop()
    await admin?.cleanup()
    data.cleanup()
  })

  it('creates an account next to a serving node, whose credentials then use a key of the first account', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'admin', 'create-account', '--account-id', B, '--data-dir', data.dir, '--store', dbUrl])
    assert.match(stdout, new RegExp(`^\\[${B}\\]\\naws_access_key_id = AKIA[A-Z2-7]{16}\\naws_secret_access_key = \\S{40}\\n$`))
    const [, id, secret] = /aws_access_key_id = (\S+)\naws_secret_access_key = (\S+)/.exec(stdout)!
    await assert.rejects(run(process.execPath, [CLI, 'admin', 'create-account', '--account-id', B, '--data-dir', data.dir, '--store', dbUrl]), /already has credentials/)
    const arn = (await kmsA.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
    await kmsA.send(new PutKeyPolicyCommand({
      KeyId: arn,
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
          { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B}:root` }, Action: 'kms:Encrypt', Resource: '*' },
        ],
      }),
    }))
    const kmsB = kmsClient(server.url, { accessKeyId: id!, secretAccessKey: secret! })
    try {
      assert.equal((await kmsB.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }))).KeyId, arn)
    } finally {
      kmsB.destroy()
    }
  })
})
