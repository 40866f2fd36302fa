import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { createInterface } from 'node:readline'
import { after, describe, it } from 'node:test'
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSServiceException,
  ListKeysCommand,
  ReEncryptCommand,
  type KMSClient,
  type KeyMetadata,
} from '@aws-sdk/client-kms'
import { CLI, CREDENTIALS, REGION, kmsClient, startTestServer, tempDataDir, type TestServer } from './harness.js'

const START_TIMEOUT_MS = 20_000

/**
 * Starts `trent serve` like the harness does, but with an environment that has no
 * TRENT_ADMIN_* variables at all, so that the server generates its admin credentials.
 */
async function startWithoutAdminEnv(dataDir: string): Promise<TestServer & { outputClosed: Promise<void> }> {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TRENT_')) env[k] = v
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const output: string[] = []
  createInterface({ input: proc.stderr! }).on('line', (l) => output.push(l))
  const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)))
  // 'close' comes once the process has exited and its stdout and stderr are drained.
  const outputClosed = new Promise<void>((ok) => proc.once('close', () => ok()))
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      fail(new Error(`server did not start:\n${output.join('\n')}`))
    }, START_TIMEOUT_MS)
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      output.push(line)
      const m = /serving the AWS KMS API on (http:\/\/\S+)/.exec(line)
      if (m) {
        clearTimeout(timer)
        ok(m[1]!)
      }
    })
    proc.once('exit', (code) => {
      clearTimeout(timer)
      fail(new Error(`server exited with ${code}:\n${output.join('\n')}`))
    })
  })
  return {
    url,
    dataDir,
    process: proc,
    output,
    outputClosed,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
      return exited
    },
  }
}

/** Stops a server, SIGKILLing it if SIGTERM has not ended it in time; returns the SIGTERM exit code. */
async function stopWithin(server: TestServer, ms = 15_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined
  const killed = new Promise<'timeout'>((ok) => {
    timer = setTimeout(() => ok('timeout'), ms)
  })
  const code = await Promise.race([server.stop(), killed])
  clearTimeout(timer)
  if (code === 'timeout') {
    server.process.kill('SIGKILL')
    assert.fail(`server did not exit within ${ms} ms of SIGTERM`)
  }
  return code
}

async function waitFor(what: string, probe: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!probe()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

async function listAllKeys(kms: KMSClient): Promise<{ KeyId: string; KeyArn: string }[]> {
  const all: { KeyId: string; KeyArn: string }[] = []
  let marker: string | undefined
  for (let page = 0; page < 100; page++) {
    const res = await kms.send(new ListKeysCommand({ Limit: 2, ...(marker ? { Marker: marker } : {}) }))
    for (const k of res.Keys ?? []) all.push({ KeyId: k.KeyId!, KeyArn: k.KeyArn! })
    marker = res.NextMarker
    if (!marker) return all
  }
  assert.fail('ListKeys did not end within 100 pages')
}

async function describeAll(kms: KMSClient, ids: string[]): Promise<KeyMetadata[]> {
  const out: KeyMetadata[] = []
  for (const id of ids) out.push((await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!)
  return out
}

/** Every regular file under `dir`, recursively, with its bytes. */
function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  const out: { path: string; bytes: Buffer }[] = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    const st = statSync(p)
    if (st.isDirectory()) out.push(...filesUnder(p))
    else if (st.isFile()) out.push({ path: p, bytes: readFileSync(p) })
  }
  return out
}

/**
 * Where any of the secrets appears in the files under `dir` (raw, base64 or hex), except in the
 * files named in `except` (relative paths). Returns human-readable findings; empty when clean.
 */
function leaks(dir: string, secrets: Record<string, Buffer>, except: string[] = []): string[] {
  const found: string[] = []
  const files = filesUnder(dir)
  assert.ok(files.length > 0, `no files in ${dir}`)
  for (const { path, bytes } of files) {
    const rel = relative(dir, path)
    for (const [name, secret] of Object.entries(secrets)) {
      if (except.includes(rel) && name.startsWith('admin')) continue
      const forms: [string, Buffer][] = [
        ['raw', secret],
        ['base64', Buffer.from(secret.toString('base64'))],
        ['hex', Buffer.from(secret.toString('hex'))],
        ['HEX', Buffer.from(secret.toString('hex').toUpperCase())],
      ]
      for (const [form, needle] of forms) if (bytes.includes(needle)) found.push(`${name} (${form}) in ${rel}`)
    }
  }
  return found
}

async function rejectsWith(p: Promise<unknown>, name: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KMSServiceException, `expected a service error, got ${String(e)}`)
    assert.equal(e.name, name)
    return true
  })
}

describe('state survives a restart', { timeout: 120_000 }, () => {
  const data = tempDataDir()
  const servers: TestServer[] = []
  const clients: KMSClient[] = []
  // Distinctive plaintexts: if they show up in the data dir, they were stored in the clear.
  const plaintexts = {
    text: Buffer.from(`trent-restart-plaintext-${randomBytes(16).toString('hex')}`),
    binary: randomBytes(48),
  }
  const context = { purpose: 'restart', run: randomBytes(4).toString('hex') }
  let dataKeyPlaintext: Buffer

  after(async () => {
    for (const c of clients) c.destroy()
    for (const s of servers) if (s.process.exitCode === null && s.process.signalCode === null) s.process.kill('SIGKILL')
    data.cleanup()
  })

  async function start(): Promise<{ server: TestServer; kms: KMSClient }> {
    const server = await startTestServer(data.dir)
    servers.push(server)
    const kms = kmsClient(server.url)
    clients.push(kms)
    return { server, kms }
  }

  it('keys, their metadata and old ciphertexts survive SIGTERM and a restart on the same data dir', async () => {
    const first = await start()
    const created: string[] = []
    for (const [i, Description] of ['first', 'second', 'third'].entries()) {
      const { KeyMetadata } = await first.kms.send(new CreateKeyCommand({ Description, Tags: [{ TagKey: 'n', TagValue: String(i) }] }))
      created.push(KeyMetadata!.Arn!)
    }
    const [keyA, keyB] = created as [string, string, string]
    const listedBefore = await listAllKeys(first.kms)
    const describedBefore = await describeAll(first.kms, listedBefore.map((k) => k.KeyId))
    assert.deepEqual(listedBefore.map((k) => k.KeyArn).sort(), [...created].sort())

    const encText = await first.kms.send(new EncryptCommand({ KeyId: keyA, Plaintext: plaintexts.text, EncryptionContext: context }))
    const encBinary = await first.kms.send(new EncryptCommand({ KeyId: keyB, Plaintext: plaintexts.binary }))
    const dk = await first.kms.send(new GenerateDataKeyCommand({ KeyId: keyA, KeySpec: 'AES_256', EncryptionContext: context }))
    dataKeyPlaintext = Buffer.from(dk.Plaintext!)

    assert.equal(await stopWithin(first.server), 0, `SIGTERM exit code; output:\n${first.server.output.join('\n')}`)

    const second = await start()
    const listedAfter = await listAllKeys(second.kms)
    assert.deepEqual(listedAfter, listedBefore)
    assert.deepEqual(await describeAll(second.kms, listedAfter.map((k) => k.KeyId)), describedBefore)

    const decText = await second.kms.send(new DecryptCommand({ CiphertextBlob: encText.CiphertextBlob, EncryptionContext: context }))
    assert.equal(decText.KeyId, keyA)
    assert.deepEqual(Buffer.from(decText.Plaintext!), plaintexts.text)
    const decBinary = await second.kms.send(new DecryptCommand({ CiphertextBlob: encBinary.CiphertextBlob, KeyId: keyB }))
    assert.deepEqual(Buffer.from(decBinary.Plaintext!), plaintexts.binary)
    const decDk = await second.kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: context }))
    assert.deepEqual(Buffer.from(decDk.Plaintext!), dataKeyPlaintext)
    // Still bound to its context after the restart.
    await rejectsWith(second.kms.send(new DecryptCommand({ CiphertextBlob: encText.CiphertextBlob })), 'InvalidCiphertextException')

    // New work on old keys and on a new key.
    const fresh = await second.kms.send(new EncryptCommand({ KeyId: keyB, Plaintext: Buffer.from('after restart') }))
    const freshBack = await second.kms.send(new DecryptCommand({ CiphertextBlob: fresh.CiphertextBlob }))
    assert.equal(Buffer.from(freshBack.Plaintext!).toString(), 'after restart')
    const newKey = await second.kms.send(new CreateKeyCommand({ Description: 'after restart' }))
    const moved = await second.kms.send(
      new ReEncryptCommand({ CiphertextBlob: encText.CiphertextBlob, SourceEncryptionContext: context, DestinationKeyId: newKey.KeyMetadata!.Arn! }),
    )
    const movedBack = await second.kms.send(new DecryptCommand({ CiphertextBlob: moved.CiphertextBlob }))
    assert.deepEqual(Buffer.from(movedBack.Plaintext!), plaintexts.text)
    assert.equal((await listAllKeys(second.kms)).length, 4)

    // The admin credentials came from the environment: none were generated into a file.
    assert.equal(existsSync(join(data.dir, 'admin-credentials')), false)

    assert.equal(await stopWithin(second.server), 0)
  })

  it('no admin secret, plaintext or data key is stored in the clear in the data dir', () => {
    const found = leaks(data.dir, {
      'admin secret access key': Buffer.from(CREDENTIALS.secretAccessKey),
      'text plaintext': plaintexts.text,
      'binary plaintext': plaintexts.binary,
      'data key': dataKeyPlaintext,
    })
    assert.deepEqual(found, [])
  })
})

describe('generated admin credentials', { timeout: 120_000 }, () => {
  const data = tempDataDir()
  const home = mkdtempSync(join(tmpdir(), 'trent-restart-home-'))
  const servers: TestServer[] = []
  const clients: KMSClient[] = []
  const credentialsFile = join(data.dir, 'admin-credentials')
  const plaintext = Buffer.from(`trent-generated-admin-plaintext-${randomBytes(16).toString('hex')}`)
  let fileBytes: Buffer
  let fileMtime: number
  let creds: { accessKeyId: string; secretAccessKey: string }
  let keyArn: string
  let ciphertext: Uint8Array

  after(async () => {
    for (const c of clients) c.destroy()
    for (const s of servers) if (s.process.exitCode === null && s.process.signalCode === null) s.process.kill('SIGKILL')
    data.cleanup()
    rmSync(home, { recursive: true, force: true })
  })

  function client(url: string, c = creds): KMSClient {
    const kms = kmsClient(url, c)
    clients.push(kms)
    return kms
  }

  it('first start without TRENT_ADMIN_* writes <data-dir>/admin-credentials, mode 0600, profile trent', async () => {
    const server = await startWithoutAdminEnv(data.dir)
    servers.push(server)
    // The server prints this line right after the one the start waits for.
    await waitFor('the credentials line', () => server.output.some((l) => l.includes(`admin credentials written to ${credentialsFile}`)), 5000)
    const st = statSync(credentialsFile)
    assert.equal(st.mode & 0o777, 0o600)
    fileBytes = readFileSync(credentialsFile)
    fileMtime = st.mtimeMs
    const text = fileBytes.toString('utf8')
    const m = /^\[trent\]\naws_access_key_id = (\S+)\naws_secret_access_key = (\S+)\n$/.exec(text)
    assert.ok(m, `not an AWS shared-credentials file with profile trent:\n${text}`)
    creds = { accessKeyId: m[1]!, secretAccessKey: m[2]! }
    assert.match(creds.accessKeyId, /^[A-Z0-9]{16,128}$/)
    assert.ok(creds.secretAccessKey.length >= 30, 'secret access key too short')
    assert.notEqual(creds.accessKeyId, CREDENTIALS.accessKeyId)

    const kms = client(server.url)
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 'generated admin' }))
    keyArn = KeyMetadata!.Arn!
    ciphertext = (await kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: plaintext }))).CiphertextBlob!
    // The fixed test credentials were never configured on this data dir.
    await rejectsWith(client(server.url, CREDENTIALS).send(new ListKeysCommand({})), 'UnrecognizedClientException')
  })

  it('the file works as the README says: AWS_SHARED_CREDENTIALS_FILE + AWS_PROFILE=trent with the AWS CLI', async () => {
    const server = servers[0]!
    const env: NodeJS.ProcessEnv = {
      PATH: '/usr/bin:/bin',
      HOME: home,
      LC_ALL: 'C.UTF-8',
      AWS_CONFIG_FILE: join(home, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
      AWS_PROFILE: 'trent',
      AWS_REGION: REGION,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
    }
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile('/usr/bin/aws', ['kms', 'list-keys', '--endpoint-url', server.url, '--output', 'json'], { env, timeout: 30_000, killSignal: 'SIGKILL' }, (error, out, err) => {
        if (error) reject(new Error(`aws kms list-keys failed: ${error.message}\n${err}`))
        else resolve(out)
      })
    })
    const keys = JSON.parse(stdout).Keys as { KeyArn: string }[]
    assert.deepEqual(keys.map((k) => k.KeyArn), [keyArn])
  })

  it('after a restart the file is unchanged and its credentials still work', async () => {
    assert.equal(await stopWithin(servers[0]!), 0)
    const server = await startWithoutAdminEnv(data.dir)
    servers.push(server)
    const st = statSync(credentialsFile)
    assert.equal(st.mode & 0o777, 0o600)
    assert.equal(st.mtimeMs, fileMtime)
    assert.deepEqual(readFileSync(credentialsFile), fileBytes)

    const kms = client(server.url)
    const listed = await listAllKeys(kms)
    assert.deepEqual(listed.map((k) => k.KeyArn), [keyArn])
    const back = await kms.send(new DecryptCommand({ CiphertextBlob: ciphertext }))
    assert.deepEqual(Buffer.from(back.Plaintext!), plaintext)
    assert.equal(await stopWithin(server), 0)
    await server.outputClosed
    assert.ok(!server.output.some((l) => l.includes('admin credentials written')), server.output.join('\n'))
  })

  it('the generated secret is in admin-credentials only, and no plaintext is anywhere in the data dir', () => {
    const found = leaks(
      data.dir,
      { 'admin secret access key': Buffer.from(creds.secretAccessKey), plaintext },
      ['admin-credentials'],
    )
    assert.deepEqual(found, [])
  })
})
