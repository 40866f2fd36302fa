import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Sha256 } from '@aws-crypto/sha256-js'
import { KMSClient, KMSServiceException } from '@aws-sdk/client-kms'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'

export const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)))
export const CLI = join(ROOT, 'dist/src/cli/trent.js')
export const REGION = 'us-east-1'
export const ACCOUNT = '111122223333'
export const CREDENTIALS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' }

/** A Trent server running as a real `trent serve` process on a free port. */
export interface TestServer {
  url: string
  dataDir: string
  process: ChildProcess
  /** Output the server printed, for assertions and debugging. */
  output: string[]
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>
}

/** A policy document (key, identity or trust policy) of these statements. */
export function policy(...statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements })
}

/**
 * The record lines of an audit trail segment, read independently of Trent's own reader: the
 * content ends at the first zero byte (space the live segment reserves), and an unterminated
 * last line is a record being written.
 */
export function segmentLines(path: string): string[] {
  const text = readFileSync(path, 'utf8').split('\0', 1)[0]!
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean)
}

/** Waits (up to 5 s) for `GET /health` to answer 200 again; fails the test otherwise. */
export async function healthRecovers(url: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100))
    if ((await fetch(`${url}/health`)).status === 200) return
  }
  assert.fail('/health did not recover')
}

/** A fresh temporary data dir, removed by `cleanup`. */
export function tempDataDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'trent-test-'))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Starts `trent serve --port 0` on `dataDir` (plus `extraArgs`) and resolves once it listens. */
export async function startTestServer(dataDir: string, extraEnv: Record<string, string> = {}, extraArgs: string[] = []): Promise<TestServer> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir, ...extraArgs], {
    env: {
      ...process.env,
      TRENT_ADMIN_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      TRENT_ADMIN_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const output: string[] = []
  createInterface({ input: proc.stderr! }).on('line', (l) => output.push(l))
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start:\n${output.join('\n')}`)), 20000)
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
  const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)))
  return {
    url,
    dataDir,
    process: proc,
    output,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
      return exited
    },
  }
}

/** An SDK client for a test server with the admin credentials. */
export function kmsClient(url: string, credentials = CREDENTIALS): KMSClient {
  return new KMSClient({ endpoint: url, region: REGION, credentials, maxAttempts: 1 })
}

/** Sends a raw request signed with SigV4 (or unsigned), for protocol-level tests. */
export async function rawRequest(
  url: string,
  options: { target?: string; body?: string | Uint8Array; headers?: Record<string, string>; sign?: boolean; credentials?: typeof CREDENTIALS; signingDate?: Date; region?: string },
): Promise<{ status: number; body: any; headers: Headers }> {
  const u = new URL(url)
  const body = options.body ?? '{}'
  const headers: Record<string, string> = {
    host: u.host,
    'content-type': 'application/x-amz-json-1.1',
    ...(options.target ? { 'x-amz-target': `TrentService.${options.target}` } : {}),
    ...options.headers,
  }
  let sent = headers
  if (options.sign !== false) {
    const signer = new SignatureV4({ credentials: options.credentials ?? CREDENTIALS, region: options.region ?? REGION, service: 'kms', sha256: Sha256 })
    const req = new HttpRequest({ method: 'POST', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: '/', headers, body })
    const signed = await signer.sign(req, options.signingDate ? { signingDate: options.signingDate } : {})
    sent = signed.headers
  }
  const { host: _host, ...fetchHeaders } = sent
  const res = await fetch(`${url}/`, { method: 'POST', headers: fetchHeaders, body: typeof body === 'string' ? body : Buffer.from(body) })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers }
}

/** Asserts that `p` rejects with the AWS service error `name` (and, if given, its message). */
export async function rejectsWithKmsError(p: Promise<unknown>, name: string, message?: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KMSServiceException, `expected a service error, got ${String(e)}`)
    assert.equal(e.name, name, e.message)
    if (typeof message === 'string') assert.equal(e.message, message)
    else if (message) assert.match(e.message, message)
    return true
  })
}

/** The Debian AWS CLI v2 (not whatever `aws` comes first on PATH). */
export const AWS_CLI = '/usr/bin/aws'

/**
 * Runs `aws kms <args>` against `endpoint` with the admin credentials and a HOME of its own, so
 * nothing in the user's ~/.aws can interfere. Resolves with the CLI's exit code and output; rejects
 * only if the CLI did not complete (timeout, failure to spawn).
 */
export function awsCli(endpoint: string, home: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/bin:/bin',
    HOME: home,
    LC_ALL: 'C.UTF-8',
    AWS_CONFIG_FILE: join(home, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_DEFAULT_REGION: REGION,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  }
  return new Promise((resolve, reject) => {
    execFile(AWS_CLI, ['kms', ...args, '--endpoint-url', endpoint, '--output', 'json'], { env, timeout: 30_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code: unknown = error ? (error as { code?: unknown }).code : 0
      if (typeof code !== 'number') reject(new Error(`aws ${args[0]} did not complete: ${error?.message}\n${stderr}`))
      else resolve({ code, stdout, stderr })
    })
  })
}

/**
 * Runs `aws <service> <args>` (any service: `iam`, `sts`, `kms`) against `endpoint` with the given
 * credentials (default: the admin's) and a HOME of its own; see {@link awsCli}.
 */
export function awsCliFor(
  endpoint: string,
  home: string,
  args: string[],
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = CREDENTIALS,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/bin:/bin',
    HOME: home,
    LC_ALL: 'C.UTF-8',
    AWS_CONFIG_FILE: join(home, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    ...(credentials.sessionToken === undefined ? {} : { AWS_SESSION_TOKEN: credentials.sessionToken }),
    AWS_DEFAULT_REGION: REGION,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  }
  return new Promise((resolve, reject) => {
    execFile(AWS_CLI, [...args, '--endpoint-url', endpoint, '--output', 'json'], { env, timeout: 30_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code: unknown = error ? (error as { code?: unknown }).code : 0
      if (typeof code !== 'number') reject(new Error(`aws ${args.slice(0, 2).join(' ')} did not complete: ${error?.message}\n${stderr}`))
      else resolve({ code, stdout, stderr })
    })
  })
}
