import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  KMSClient,
  ListAliasesCommand,
  ReEncryptCommand,
  UpdateAliasCommand,
  type AliasListEntry,
} from '@aws-sdk/client-kms'
import Database from 'better-sqlite3'
import { ACCOUNT, REGION, awsCli, kmsClient, rejectsWithKmsError, startTestServer, tempDataDir, type TestServer } from './harness.js'

const PREFIX_MESSAGE = 'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html'
const OTHER_ACCOUNT = '444455556666'

const rejects = rejectsWithKmsError

function aliasArnOf(name: string, account = ACCOUNT): string {
  return `arn:aws:kms:${REGION}:${account}:${name}`
}

describe('aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases', { timeout: 180_000 }, () => {
  const data = tempDataDir()
  let server: TestServer
  let kms: KMSClient
  let unique = 0

  interface Key {
    id: string
    arn: string
  }

  async function newKey(description = ''): Promise<Key> {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: description }))
    return { id: KeyMetadata!.KeyId!, arn: KeyMetadata!.Arn! }
  }

  /** A fresh alias name, so tests do not depend on each other's aliases. */
  function name(stem: string): string {
    return `alias/${stem}-${++unique}`
  }

  async function create(aliasName: string, target: string): Promise<void> {
    await kms.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: target }))
  }

  /** Every alias of the account (or of one key), following NextMarker. */
  async function listAll(keyId?: string, limit?: number): Promise<AliasListEntry[]> {
    const out: AliasListEntry[] = []
    let marker: string | undefined
    do {
      const page = await kms.send(new ListAliasesCommand({ KeyId: keyId, Limit: limit, Marker: marker }))
      out.push(...page.Aliases!)
      assert.equal(page.Truncated, page.NextMarker !== undefined)
      marker = page.NextMarker
    } while (marker !== undefined)
    return out
  }

  async function targetOf(aliasName: string): Promise<string | undefined> {
    return (await listAll()).find((a) => a.AliasName === aliasName)?.TargetKeyId
  }

  /**
   * Puts a key into a state the API cannot reach today (another account, another key spec or usage,
   * PendingDeletion) by writing the server's store directly. The server reads keys from the store
   * on every request, so the change is seen at once.
   */
  function setKey(keyId: string, fields: { key_state?: string; key_spec?: string; key_usage?: string; account_id?: string; arn?: string; deletion_date?: number }): void {
    const db = new Database(join(server.dataDir, 'trent.db'))
    try {
      db.pragma('busy_timeout = 5000')
      const names = Object.keys(fields)
      const changed = db.prepare(`UPDATE keys SET ${names.map((n) => `${n} = @${n}`).join(', ')} WHERE key_id = @keyId`).run({ ...fields, keyId }).changes
      assert.equal(changed, 1)
    } finally {
      db.close()
    }
  }

  function pendingDeletion(keyId: string): void {
    setKey(keyId, { key_state: 'PendingDeletion', deletion_date: Date.now() + 30 * 86_400_000 })
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

  describe('CreateAlias', () => {
    it('creates an alias that ListAliases shows with its ARN, key id and dates', async () => {
      const key = await newKey()
      const alias = name('app')
      const before = Date.now()
      await create(alias, key.id)
      const entries = await listAll(key.id)
      assert.equal(entries.length, 1)
      const e = entries[0]!
      assert.equal(e.AliasName, alias)
      assert.equal(e.AliasArn, aliasArnOf(alias))
      assert.equal(e.TargetKeyId, key.id)
      assert.ok(e.CreationDate instanceof Date && e.LastUpdatedDate instanceof Date)
      assert.ok(Math.abs(e.CreationDate.getTime() - before) < 60_000, String(e.CreationDate))
      assert.equal(e.LastUpdatedDate.getTime(), e.CreationDate.getTime())
    })

    it('takes the target as key id or key ARN', async () => {
      const key = await newKey()
      const [a, b] = [name('by-id'), name('by-arn')]
      await create(a, key.id)
      await create(b, key.arn)
      assert.equal(await targetOf(a), key.id)
      assert.equal(await targetOf(b), key.id)
    })

    it('every operation that takes a KeyId accepts the alias name and the alias ARN', async () => {
      const key = await newKey('aliased')
      const other = await newKey()
      const alias = name('everywhere')
      const arn = aliasArnOf(alias)
      await create(alias, key.arn)

      for (const id of [alias, arn]) {
        const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: id }))
        assert.equal(KeyMetadata?.Arn, key.arn)
        assert.equal(KeyMetadata?.Description, 'aliased')

        const enc = await kms.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('via alias'), EncryptionContext: { a: '1' } }))
        assert.equal(enc.KeyId, key.arn)
        const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: '1' }, KeyId: id }))
        assert.equal(dec.KeyId, key.arn)
        assert.equal(Buffer.from(dec.Plaintext!).toString(), 'via alias')

        const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256' }))
        assert.equal(dk.KeyId, key.arn)
        const dkBack = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, KeyId: id }))
        assert.deepEqual(Buffer.from(dkBack.Plaintext!), Buffer.from(dk.Plaintext!))

        const dkw = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: id, NumberOfBytes: 16 }))
        assert.equal(dkw.KeyId, key.arn)

        const fromOther = await kms.send(new EncryptCommand({ KeyId: other.id, Plaintext: Buffer.from('move') }))
        const re = await kms.send(new ReEncryptCommand({ CiphertextBlob: fromOther.CiphertextBlob, DestinationKeyId: id }))
        assert.equal(re.KeyId, key.arn)
        const reBack = await kms.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, KeyId: id }))
        assert.equal(Buffer.from(reBack.Plaintext!).toString(), 'move')

        // Decrypt with an alias of a key that did not encrypt the blob.
        await rejects(
          kms.send(new DecryptCommand({ CiphertextBlob: fromOther.CiphertextBlob, KeyId: id })),
          'IncorrectKeyException',
          'The key ID in the request does not identify a CMK that can perform this operation.',
        )
      }
    })

    it('alias names are case-sensitive', async () => {
      const [k1, k2] = [await newKey(), await newKey()]
      const stem = name('Case')
      await create(stem, k1.id)
      await create(stem.toLowerCase(), k2.id)
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: stem }))).KeyMetadata?.KeyId, k1.id)
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: stem.toLowerCase() }))).KeyMetadata?.KeyId, k2.id)
      const upper = `alias/${stem.slice('alias/'.length).toUpperCase()}`
      await rejects(kms.send(new DescribeKeyCommand({ KeyId: upper })), 'NotFoundException', `Alias ${aliasArnOf(upper)} is not found.`)
    })

    it('refuses names that break the model: over 256 characters or outside [a-zA-Z0-9:/_-]', async () => {
      const key = await newKey()
      await create(`alias/${'x'.repeat(250)}`, key.id)
      await rejects(
        create(`alias/${'x'.repeat(251)}`, key.id),
        'ValidationException',
        `1 validation error detected: Value 'alias/${'x'.repeat(251)}' at 'aliasName' failed to satisfy constraint: Member must have length less than or equal to 256`,
      )
      await rejects(
        create('alias/with space', key.id),
        'ValidationException',
        "1 validation error detected: Value 'alias/with space' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
      )
    })

    it('refuses a name without the alias/ prefix with AWS’s ValidationException', async () => {
      const key = await newKey()
      await rejects(create('no-prefix', key.id), 'ValidationException', PREFIX_MESSAGE)
    })

    it('refuses a colon in the name', async () => {
      const key = await newKey()
      await rejects(create('alias/a:b', key.id), 'ValidationException', 'alias/a:b contains invalid characters for an alias')
    })

    it('reserves the alias/aws/ prefix: InvalidAliasNameException', async () => {
      const key = await newKey()
      await rejects(create('alias/aws/s3', key.id), 'InvalidAliasNameException', /alias\/aws\//)
    })

    it('refuses a name that exists in the account and region: AlreadyExistsException', async () => {
      const [k1, k2] = [await newKey(), await newKey()]
      const alias = name('taken')
      await create(alias, k1.id)
      await rejects(create(alias, k2.id), 'AlreadyExistsException', `An alias with the name ${aliasArnOf(alias)} already exists`)
      assert.equal(await targetOf(alias), k1.id)
    })

    it('refuses an alias (name or ARN) as the target', async () => {
      const key = await newKey()
      const alias = name('first')
      await create(alias, key.id)
      await rejects(create(name('second'), alias), 'ValidationException', 'Aliases must refer to keys. Not aliases')
      await rejects(create(name('second'), aliasArnOf(alias)), 'ValidationException', 'Aliases must refer to keys. Not aliases')
    })

    it('refuses a target that does not exist or is not a key id', async () => {
      const missing = '00000000-0000-4000-8000-000000000000'
      await rejects(create(name('x'), missing), 'NotFoundException', `Key 'arn:aws:kms:${REGION}:${ACCOUNT}:key/${missing}' does not exist`)
      await rejects(create(name('x'), 'not-a-key'), 'NotFoundException', "Invalid keyId 'not-a-key'")
    })

    it('refuses a target key ARN of another region', async () => {
      const key = await newKey()
      await rejects(create(name('x'), key.arn.replace(REGION, 'eu-west-1')), 'NotFoundException', 'Invalid arn eu-west-1')
    })

    it('refuses a target key of another account', async () => {
      const key = await newKey()
      const foreignArn = `arn:aws:kms:${REGION}:${OTHER_ACCOUNT}:key/${key.id}`
      setKey(key.id, { account_id: OTHER_ACCOUNT, arn: foreignArn })
      await rejects(create(name('x'), foreignArn), 'NotFoundException', `Key '${foreignArn}' does not exist`)
      await rejects(create(name('x'), key.id), 'NotFoundException', `Key 'arn:aws:kms:${REGION}:${ACCOUNT}:key/${key.id}' does not exist`)
    })

    it('refuses a target key pending deletion (KMSInvalidStateException), not a disabled one', async () => {
      const [pending, disabled] = [await newKey(), await newKey()]
      pendingDeletion(pending.id)
      await rejects(create(name('x'), pending.id), 'KMSInvalidStateException', `${pending.arn} is pending deletion.`)
      await kms.send(new DisableKeyCommand({ KeyId: disabled.id }))
      const alias = name('disabled')
      await create(alias, disabled.id)
      assert.equal(await targetOf(alias), disabled.id)
    })

    it('allows at most 50 aliases per key: LimitExceededException', async () => {
      const [full, other] = [await newKey(), await newKey()]
      const names: string[] = []
      for (let i = 0; i < 50; i++) {
        names.push(name('many'))
        await create(names.at(-1)!, full.id)
      }
      await rejects(create(name('many'), full.arn), 'LimitExceededException', new RegExp(full.arn))
      await create(name('other'), other.id)
      await kms.send(new DeleteAliasCommand({ AliasName: names[0]! }))
      await create(name('many'), full.id)
      assert.equal((await listAll(full.id)).length, 50)
    })
  })

  describe('UpdateAlias', () => {
    it('points the alias at another key; the alias follows at once, CreationDate stays', async () => {
      const [k1, k2] = [await newKey(), await newKey()]
      const alias = name('moving')
      await create(alias, k1.id)
      const [created] = await listAll(k1.id)
      await new Promise((r) => setTimeout(r, 20))
      await kms.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: k2.arn }))
      assert.deepEqual(await listAll(k1.id), [])
      const [moved] = await listAll(k2.id)
      assert.equal(moved?.AliasName, alias)
      assert.equal(moved?.TargetKeyId, k2.id)
      assert.equal(moved?.CreationDate?.getTime(), created?.CreationDate?.getTime())
      assert.ok(moved!.LastUpdatedDate!.getTime() > moved!.CreationDate!.getTime())
      const enc = await kms.send(new EncryptCommand({ KeyId: alias, Plaintext: Buffer.from('x') }))
      assert.equal(enc.KeyId, k2.arn)
    })

    it('refuses an alias that does not exist: NotFoundException', async () => {
      const key = await newKey()
      const alias = name('ghost')
      await rejects(kms.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: key.id })), 'NotFoundException', `Alias ${aliasArnOf(alias)} is not found.`)
    })

    it('refuses a name without the prefix, and the reserved alias/aws/ prefix', async () => {
      const key = await newKey()
      await rejects(kms.send(new UpdateAliasCommand({ AliasName: 'no-prefix', TargetKeyId: key.id })), 'ValidationException', PREFIX_MESSAGE)
      await rejects(kms.send(new UpdateAliasCommand({ AliasName: 'alias/aws/s3', TargetKeyId: key.id })), 'InvalidAliasNameException')
    })

    it('refuses an alias as the new target', async () => {
      const key = await newKey()
      const [a, b] = [name('a'), name('b')]
      await create(a, key.id)
      await create(b, key.id)
      await rejects(kms.send(new UpdateAliasCommand({ AliasName: a, TargetKeyId: b })), 'ValidationException', 'Aliases must refer to keys. Not aliases')
    })

    it('refuses a new key of another type (symmetric → HMAC) with ValidationException', async () => {
      const [sym, hmac] = [await newKey(), await newKey()]
      setKey(hmac.id, { key_spec: 'HMAC_256', key_usage: 'GENERATE_VERIFY_MAC' })
      const alias = name('typed')
      await create(alias, sym.id)
      await rejects(kms.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: hmac.id })), 'ValidationException', /must be the same type and have the same key usage/)
      assert.equal(await targetOf(alias), sym.id)
    })

    it('refuses a new key of the same type with another key usage; allows another asymmetric spec with the same usage', async () => {
      const [rsaEncrypt, rsaSign, eccSign] = [await newKey(), await newKey(), await newKey()]
      setKey(rsaEncrypt.id, { key_spec: 'RSA_2048', key_usage: 'ENCRYPT_DECRYPT' })
      setKey(rsaSign.id, { key_spec: 'RSA_2048', key_usage: 'SIGN_VERIFY' })
      setKey(eccSign.id, { key_spec: 'ECC_NIST_P256', key_usage: 'SIGN_VERIFY' })
      const [encAlias, signAlias] = [name('rsa-enc'), name('sign')]
      await create(encAlias, rsaEncrypt.id)
      await rejects(kms.send(new UpdateAliasCommand({ AliasName: encAlias, TargetKeyId: rsaSign.id })), 'ValidationException', /key usage SIGN_VERIFY/)
      await create(signAlias, rsaSign.id)
      await kms.send(new UpdateAliasCommand({ AliasName: signAlias, TargetKeyId: eccSign.id }))
      assert.equal(await targetOf(signAlias), eccSign.id)
    })

    it('moves an alias away from a key pending deletion, never onto one', async () => {
      const [leaving, fresh, pending] = [await newKey(), await newKey(), await newKey()]
      const alias = name('rescue')
      await create(alias, leaving.id)
      pendingDeletion(leaving.id)
      pendingDeletion(pending.id)
      await rejects(kms.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: pending.id })), 'KMSInvalidStateException', `${pending.arn} is pending deletion.`)
      await kms.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: fresh.id }))
      assert.equal(await targetOf(alias), fresh.id)
    })
  })

  describe('DeleteAlias', () => {
    it('deletes the alias, not the key; a second delete is NotFoundException', async () => {
      const key = await newKey()
      const alias = name('gone')
      await create(alias, key.id)
      await kms.send(new DeleteAliasCommand({ AliasName: alias }))
      assert.equal(await targetOf(alias), undefined)
      await rejects(kms.send(new DescribeKeyCommand({ KeyId: alias })), 'NotFoundException', `Alias ${aliasArnOf(alias)} is not found.`)
      assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: key.id }))).KeyMetadata?.KeyState, 'Enabled')
      await rejects(kms.send(new DeleteAliasCommand({ AliasName: alias })), 'NotFoundException', `Alias ${aliasArnOf(alias)} is not found.`)
    })

    it('works whatever the state of the key', async () => {
      const key = await newKey()
      const alias = name('of-pending')
      await create(alias, key.id)
      pendingDeletion(key.id)
      await kms.send(new DeleteAliasCommand({ AliasName: alias }))
      assert.equal(await targetOf(alias), undefined)
    })

    it('refuses a name without the prefix and the reserved alias/aws/ prefix', async () => {
      await rejects(kms.send(new DeleteAliasCommand({ AliasName: 'no-prefix' })), 'ValidationException', PREFIX_MESSAGE)
      await rejects(kms.send(new DeleteAliasCommand({ AliasName: 'alias/aws/s3' })), 'InvalidAliasNameException')
    })
  })

  describe('ListAliases', () => {
    it('with KeyId (key id or key ARN) lists only that key’s aliases, in name order', async () => {
      const [k1, k2] = [await newKey(), await newKey()]
      const names = [name('list-c'), name('list-a'), name('list-b')]
      for (const n of names) await create(n, k1.id)
      await create(name('list-other'), k2.id)
      for (const id of [k1.id, k1.arn]) {
        const page = await kms.send(new ListAliasesCommand({ KeyId: id }))
        assert.deepEqual(page.Aliases!.map((a) => a.AliasName), [...names].sort())
        assert.equal(page.Truncated, false)
        assert.equal(page.NextMarker, undefined)
        assert.ok(page.Aliases!.every((a) => a.TargetKeyId === k1.id))
      }
      assert.deepEqual((await kms.send(new ListAliasesCommand({ KeyId: (await newKey()).id }))).Aliases, [])
    })

    it('with a KeyId that names no key of the account: NotFoundException', async () => {
      const missing = '00000000-0000-4000-8000-000000000000'
      await rejects(kms.send(new ListAliasesCommand({ KeyId: missing })), 'NotFoundException', `Key 'arn:aws:kms:${REGION}:${ACCOUNT}:key/${missing}' does not exist`)
      const key = await newKey()
      const alias = name('not-a-key-id')
      await create(alias, key.id)
      await rejects(kms.send(new ListAliasesCommand({ KeyId: alias })), 'NotFoundException', `Invalid keyId '${alias}'`)
    })

    it('pages with Limit and Marker; Limit is 1..1000 and a page holds at most 100', async () => {
      for (const key of [await newKey(), await newKey(), await newKey()]) {
        for (let i = 0; i < 40; i++) await create(name('page'), key.id)
      }
      const all = await listAll()
      assert.ok(all.length > 120, String(all.length))
      assert.deepEqual(all.map((a) => a.AliasName), all.map((a) => a.AliasName!).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))))
      assert.equal(new Set(all.map((a) => a.AliasName)).size, all.length)

      const first = await kms.send(new ListAliasesCommand({}))
      assert.equal(first.Aliases!.length, 50)
      assert.equal(first.Truncated, true)
      const big = await kms.send(new ListAliasesCommand({ Limit: 1000 }))
      assert.equal(big.Aliases!.length, 100)
      assert.equal(big.Truncated, true)
      assert.deepEqual(await listAll(undefined, 7), all)

      await rejects(
        kms.send(new ListAliasesCommand({ Limit: 0 })),
        'ValidationException',
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
      )
      await rejects(kms.send(new ListAliasesCommand({ Limit: 1001 })), 'ValidationException', /Member must have value less than or equal to 1000/)
      await rejects(kms.send(new ListAliasesCommand({ Marker: 'not-a-marker' })), 'InvalidMarkerException')
    })
  })

  describe('AWS CLI v2', () => {
    // HOME, config and credentials of our own: nothing from the user's ~/.aws can interfere.
    const home = mkdtempSync(join(tmpdir(), 'trent-aws-cli-'))
    after(() => rmSync(home, { recursive: true, force: true }))

    const aws = (args: string[]) => awsCli(server.url, home, args)

    it('create-alias, then list-aliases --key-id shows it', async () => {
      const key = await newKey()
      const alias = name('cli')
      const created = await aws(['create-alias', '--alias-name', alias, '--target-key-id', key.arn])
      assert.equal(created.code, 0, created.stderr)
      assert.equal(created.stdout, '')
      const listed = await aws(['list-aliases', '--key-id', key.id])
      assert.equal(listed.code, 0, listed.stderr)
      const out = JSON.parse(listed.stdout)
      assert.equal(out.Aliases.length, 1)
      assert.equal(out.Aliases[0].AliasName, alias)
      assert.equal(out.Aliases[0].AliasArn, aliasArnOf(alias))
      assert.equal(out.Aliases[0].TargetKeyId, key.id)
      assert.ok(Math.abs(Date.parse(out.Aliases[0].CreationDate) - Date.now()) < 120_000, out.Aliases[0].CreationDate)
      const described = JSON.parse((await aws(['describe-key', '--key-id', alias])).stdout)
      assert.equal(described.KeyMetadata.Arn, key.arn)
    })

    it('list-aliases follows the pagination itself', async () => {
      const listed = await aws(['list-aliases', '--page-size', '30'])
      assert.equal(listed.code, 0, listed.stderr)
      assert.deepEqual(JSON.parse(listed.stdout).Aliases.map((a: AliasListEntry) => a.AliasName), (await listAll()).map((a) => a.AliasName))
    })

    it('create-alias without the prefix fails with ValidationException, exit code 254', async () => {
      const key = await newKey()
      const r = await aws(['create-alias', '--alias-name', 'no-prefix', '--target-key-id', key.id])
      assert.equal(r.code, 254, `stdout: ${r.stdout}\nstderr: ${r.stderr}`)
      assert.match(r.stderr, /An error occurred \(ValidationException\) when calling the CreateAlias operation: Alias must start with the prefix "alias\/"/)
    })
  })
})
