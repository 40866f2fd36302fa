/**
 * `npm run bench`: closed-loop HTTP benchmark of a real `trent serve` process.
 *
 * Starts a server on a temporary data dir, creates a key, pre-signs a pool of requests per
 * operation and replays them from N concurrent keep-alive connections for a fixed time per
 * scenario. Every scenario is compared with the unauthenticated `GET /health` of the same server
 * at the same concurrency, measured in slices interleaved with the scenarios' own: ratios survive
 * a noisy machine better than absolute figures. See docs/benchmarks.md.
 *
 * Then the audit case (`audit`): Encrypt 64 B on a server writing the audit trail against one started
 * with `--audit off`, interleaved, printed as a ratio (target >= 85 %).
 *
 * Then, when PostgreSQL binaries exist (under /usr/lib/postgresql), the two-node case: a throwaway
 * cluster (scripts/pg-test-cluster.sh on a free port), two `trent serve` nodes on it sharing the
 * seal key, and Encrypt 64 B with the load split across both against the same load on one node,
 * interleaved, printed as a ratio. Without PostgreSQL it is skipped with one line.
 *
 * Environment: BENCH_SECONDS (measured seconds per scenario, default 3), BENCH_ROUNDS (interleaved
 * slices those seconds are split into, default 3), BENCH_WARMUP (seconds before a scenario's first
 * slice, default 1), BENCH_CONCURRENCY (comma list, default 1,16,64), BENCH_POOL (distinct signed
 * requests per operation, default 64), BENCH_ONLY (comma list of scenario-name prefixes to run besides
 * the baseline; `two-node` for the two-node case, which runs only when named or when BENCH_ONLY is
 * unset), BENCH_CLIENT (`http`, the default: node:http's keep-alive Agent; `raw`: each connection
 * writes the request's pre-serialised bytes and reads the answer by its Content-Length, a client
 * that costs a quarter as much and so shows what the server alone can do), BENCH_URL (benchmark a
 * server that is already running, for instance under
 * `node --cpu-prof`, started with the admin credentials of test/e2e/harness.ts; the CPU columns
 * then cover this process only).
 *
 * Exits 1 only when setup or a request fails (non-200 or a socket error); a figure below target
 * never fails the run.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs'
import { Agent, request, type IncomingHttpHeaders } from 'node:http'
import { connect, createServer, type Socket } from 'node:net'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Sha256 } from '@aws-crypto/sha256-js'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import { CREDENTIALS, REGION, ROOT, startTestServer, tempDataDir, type TestServer } from '../test/e2e/harness.js'

// ---------------------------------------------------------------------------------------------
// Configuration

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`)
  return n
}

const SECONDS = envNumber('BENCH_SECONDS', 3)
const WARMUP = envNumber('BENCH_WARMUP', 1)
const ROUNDS = Math.max(1, Math.floor(envNumber('BENCH_ROUNDS', 3)))
/** Unmeasured lead-in of every slice after the first: lets the previous scenario's requests drain. */
const SETTLE = 0.2
const POOL = Math.floor(envNumber('BENCH_POOL', 64))
const CONCURRENCY = (process.env['BENCH_CONCURRENCY'] ?? '1,16,64').split(',').map((s) => {
  const n = Number(s.trim())
  if (!Number.isInteger(n) || n <= 0) throw new Error(`BENCH_CONCURRENCY must be a comma list of positive integers, got ${JSON.stringify(s)}`)
  return n
})
const EXTERNAL_URL = process.env['BENCH_URL']
const CLIENT = process.env['BENCH_CLIENT'] ?? 'http'
if (CLIENT !== 'http' && CLIENT !== 'raw') throw new Error(`BENCH_CLIENT must be http or raw, got ${JSON.stringify(CLIENT)}`)
const ONLY = process.env['BENCH_ONLY']?.split(',').map((s) => s.trim()).filter((s) => s !== '')
/** A request unanswered for this long counts as an error (and ends the wait for it). */
const REQUEST_TIMEOUT_MS = 10_000
/** Above this share of a core used by other processes during a scenario, the run is flagged. */
const OTHER_CPU_WARNING = 0.25
/** Encrypt should reach this share of the baseline's req/s (ARCHITECTURE.md, "Performance model"). */
const TARGET_RATIO = 0.5

// ---------------------------------------------------------------------------------------------
// Requests

/** One ready-to-send HTTP request: headers already signed, body already serialized. */
interface PreparedRequest {
  method: 'GET' | 'POST'
  path: string
  headers: Record<string, string>
  body: Buffer | undefined
}

const wireCache = new WeakMap<PreparedRequest, Buffer>()

/** The request as bytes on the wire (HTTP/1.1, keep-alive), for the raw client; made once per request. */
function wire(r: PreparedRequest): Buffer {
  let bytes = wireCache.get(r)
  if (!bytes) {
    const head = `${r.method} ${r.path} HTTP/1.1\r\n${Object.entries(r.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`
    bytes = Buffer.concat([Buffer.from(head, 'latin1'), r.body ?? Buffer.alloc(0)])
    wireCache.set(r, bytes)
  }
  return bytes
}

/**
 * One keep-alive connection of the raw client: one request at a time, the answer read by its
 * Content-Length (every Trent answer has one) without an HTTP parser.
 */
class RawConnection {
  readonly #socket: Socket
  #buffered: Buffer | undefined
  #waiting: { answer(status: number, body: Buffer): void; error(e: Error): void } | undefined

  constructor(url: URL) {
    this.#socket = connect(Number(url.port), url.hostname)
    this.#socket.setNoDelay(true)
    this.#socket.setTimeout(REQUEST_TIMEOUT_MS, () => this.#fail(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)))
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    this.#socket.on('error', (e) => this.#fail(e))
    this.#socket.on('close', () => this.#fail(new Error('connection closed')))
  }

  get usable(): boolean {
    return !this.#socket.destroyed
  }

  send(bytes: Buffer, answer: (status: number, body: Buffer) => void, error: (e: Error) => void): void {
    this.#waiting = { answer, error }
    this.#socket.write(bytes)
  }

  close(): void {
    this.#waiting = undefined
    this.#socket.destroy()
  }

  #onData(chunk: Buffer): void {
    const data = this.#buffered ? Buffer.concat([this.#buffered, chunk]) : chunk
    this.#buffered = data
    const headEnd = data.indexOf('\r\n\r\n')
    if (headEnd < 0) return
    const head = data.toString('latin1', 0, headEnd)
    const length = /\r\ncontent-length: *(\d+)/i.exec(head)
    if (!length) return this.#fail(new Error('answer without Content-Length'))
    const end = headEnd + 4 + Number(length[1])
    if (data.length < end) return
    this.#buffered = data.length > end ? data.subarray(end) : undefined
    const waiting = this.#waiting
    this.#waiting = undefined
    waiting?.answer(Number(head.slice(9, 12)), data.subarray(headEnd + 4, end))
  }

  #fail(e: Error): void {
    const waiting = this.#waiting
    this.#waiting = undefined
    this.#socket.destroy()
    waiting?.error(e)
  }
}

/** Signs as the AWS SDKs do; only used while preparing the pools, never in the timed loop. */
const signer = new SignatureV4({ credentials: CREDENTIALS, region: REGION, service: 'kms', sha256: Sha256 })

type Credentials = typeof CREDENTIALS

async function signedRequest(url: URL, target: string, payload: object, credentials?: Credentials): Promise<PreparedRequest> {
  const body = Buffer.from(JSON.stringify(payload))
  const headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': `TrentService.${target}`,
    'content-length': String(body.length),
  }
  const unsigned = new HttpRequest({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers, body })
  const signed = await (credentials ? new SignatureV4({ credentials, region: REGION, service: 'kms', sha256: Sha256 }) : signer).sign(unsigned)
  return { method: 'POST', path: '/', headers: { ...signed.headers }, body }
}

/** One IAM query-API call (form body, SigV4 service `iam`, XML answer) with the admin credentials (setup only). */
async function iamCall(url: URL, params: Record<string, string>): Promise<string> {
  const body = Buffer.from(new URLSearchParams({ ...params, Version: '2010-05-08' }).toString())
  const headers: Record<string, string> = { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'content-length': String(body.length) }
  const unsigned = new HttpRequest({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers, body })
  const signed = await new SignatureV4({ credentials: CREDENTIALS, region: REGION, service: 'iam', sha256: Sha256 }).sign(unsigned)
  const res = await sendOnce(url, { method: 'POST', path: '/', headers: { ...signed.headers }, body })
  const text = res.body.toString('utf8')
  if (res.status !== 200) throw new Error(`IAM ${params['Action']} answered ${res.status}: ${text}`)
  return text
}

function xmlField(xml: string, name: string): string {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)
  if (!m) throw new Error(`no <${name}> in ${xml.slice(0, 500)}`)
  return m[1]!
}

interface Response {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

/** Sends one prepared request on a throw-away connection and buffers the answer (setup only). */
function sendOnce(url: URL, r: PreparedRequest): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method: r.method, path: r.path, headers: r.headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(r.body)
  })
}

async function call(url: URL, target: string, payload: object): Promise<any> {
  const res = await sendOnce(url, await signedRequest(url, target, payload))
  const text = res.body.toString('utf8')
  if (res.status !== 200) throw new Error(`${target} answered ${res.status}: ${text}`)
  return JSON.parse(text)
}

// ---------------------------------------------------------------------------------------------
// CPU accounting of the server processes (Linux /proc; silently absent elsewhere)

const CLK_TCK = 100 // USER_HZ; 100 on every mainstream Linux build

/** CPU ticks of a process (all its threads), or with `mainThread` of its main thread only. */
function procTicks(pid: number, mainThread = false): number | undefined {
  try {
    const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return undefined
  }
}

/** Summed CPU ticks of `pids` (of their main threads only with `mainThread`); undefined when there are none or one cannot be read. */
function ticksOf(pids: readonly number[], mainThread = false): number | undefined {
  if (pids.length === 0) return undefined
  let sum = 0
  for (const pid of pids) {
    const t = procTicks(pid, mainThread)
    if (t === undefined) return undefined
    sum += t
  }
  return sum
}

function childPids(parent: number): number[] {
  const out: number[] = []
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
        if (ppid === parent) out.push(Number(entry))
      } catch {
        // the process went away
      }
    }
  } catch {
    // no /proc
  }
  return out
}

/** Idle and total jiffies of the whole machine (first line of /proc/stat), when readable. */
function machineTicks(): { idle: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number)
    return { idle: v[3]! + v[4]!, total: v.reduce((a, b) => a + b, 0) }
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// Closed-loop load generator

interface ScenarioResult {
  name: string
  concurrency: number
  requests: number
  seconds: number
  rps: number
  p50Ms: number
  p99Ms: number
  errors: number
  /**
   * Share of one core used during the measured windows by this process, the server and the HSM;
   * `other`: by everything else on the machine (same unit); `idle`: idle share of the whole machine.
   */
  cpu: { bench: number; server: number | null; serverMain: number | null; hsm: number | null; other: number | null; idle: number | null }
  ratio?: number
  verdict?: 'PASS' | 'BELOW'
}

/** Distinct failures ("<scenario> c=<n>: HTTP <status> <body>") and how often each happened. */
type Failures = Map<string, number>

/** A server to send requests to, and the pre-signed requests for it (SigV4 signs the host). */
interface Target {
  url: URL
  pool: readonly PreparedRequest[]
}

/** Processes whose CPU a load accounts for: the servers and their HSMs (empty when unknown). */
interface Pids {
  servers: number[]
  hsms: number[]
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))
  return sorted[i]!
}

/**
 * One scenario at one concurrency: a keep-alive Agent with `concurrency` sockets and the figures
 * gathered over all its slices. Slices of different scenarios are interleaved by the caller, so a
 * change in the machine's speed during the run hits the baseline and the operations alike. With
 * several targets (servers), the slots are dealt out among them in turn, each with its own Agent.
 */
class Load {
  readonly #agents: Agent[]
  /** The raw client's connection of each slot (BENCH_CLIENT=raw). */
  readonly #raw: Array<RawConnection | undefined> = []
  readonly #next: number[]
  readonly #latencies: number[] = []
  #errors = 0
  #measuredMs = 0
  #benchCpuUs = 0
  #serverTicks: number | null = 0
  /** Of the servers' main threads (the event loop), which a server cannot spread over cores. */
  #serverMainTicks: number | null = 0
  #hsmTicks: number | null = 0
  #machineIdle: number | null = 0
  #machineTotal = 0

  readonly name: string
  readonly targets: readonly Target[]
  readonly concurrency: number
  readonly pids: Pids
  readonly failures: Failures

  constructor(name: string, targets: readonly Target[], concurrency: number, pids: Pids, failures: Failures) {
    if (targets.length === 0 || concurrency < targets.length) throw new Error(`${name}: needs at least one slot per target`)
    this.name = name
    this.targets = targets
    this.concurrency = concurrency
    this.pids = pids
    this.failures = failures
    const perTarget = Math.ceil(concurrency / targets.length)
    this.#agents = targets.map(() => new Agent({ keepAlive: true, maxSockets: perTarget, maxFreeSockets: perTarget }))
    this.#next = targets.map(() => 0)
  }

  /**
   * Keeps `concurrency` requests in flight for `warmupS + measureS` seconds: each slot sends the
   * next request of the pool as soon as its previous one has been answered and read to the end.
   * Only requests that start and finish inside the measured window are counted; errors are
   * counted whenever they happen.
   */
  async slice(warmupS: number, measureS: number): Promise<void> {
    const { targets, concurrency, pids } = this
    const measureFrom = performance.now() + warmupS * 1000
    const stopAt = measureFrom + measureS * 1000
    let cpu0: NodeJS.CpuUsage | undefined
    let server0: number | undefined
    let serverMain0: number | undefined
    let hsm0: number | undefined
    let machine0: ReturnType<typeof machineTicks>
    const startMeasuring = setTimeout(() => {
      cpu0 = process.cpuUsage()
      server0 = ticksOf(pids.servers)
      serverMain0 = ticksOf(pids.servers, true)
      hsm0 = ticksOf(pids.hsms)
      machine0 = machineTicks()
    }, warmupS * 1000)

    await new Promise<void>((done) => {
      let active = concurrency
      let finished = false
      const stopTimer = setTimeout(() => {
        finished = true
        this.#measuredMs += performance.now() - measureFrom
        if (cpu0) {
          const used = process.cpuUsage(cpu0)
          this.#benchCpuUs += used.user + used.system
        }
        const server1 = ticksOf(pids.servers)
        const serverMain1 = ticksOf(pids.servers, true)
        const hsm1 = ticksOf(pids.hsms)
        const machine1 = machineTicks()
        this.#serverTicks = this.#serverTicks === null || server0 === undefined || server1 === undefined ? null : this.#serverTicks + server1 - server0
        this.#serverMainTicks = this.#serverMainTicks === null || serverMain0 === undefined || serverMain1 === undefined ? null : this.#serverMainTicks + serverMain1 - serverMain0
        this.#hsmTicks = this.#hsmTicks === null || hsm0 === undefined || hsm1 === undefined ? null : this.#hsmTicks + hsm1 - hsm0
        if (this.#machineIdle === null || !machine0 || !machine1) this.#machineIdle = null
        else {
          this.#machineIdle += machine1.idle - machine0.idle
          this.#machineTotal += machine1.total - machine0.total
        }
      }, (warmupS + measureS) * 1000)

      const slotDone = () => {
        active -= 1
        if (active === 0) {
          clearTimeout(stopTimer)
          done()
        }
      }

      const fire = (slot: number) => {
        if (finished) {
          slotDone()
          return
        }
        const t = slot % targets.length
        const { url, pool } = targets[t]!
        const next = this.#next[t]!
        const r = pool[next]!
        this.#next[t] = next + 1 === pool.length ? 0 : next + 1
        const start = performance.now()
        // Exactly one outcome per request, whatever mix of events a broken connection produces.
        let settled = false
        const fail = (status: number, body: string) => {
          if (settled) return
          settled = true
          this.#errors += 1
          const key = `${this.name} c=${concurrency}: ${status === 0 ? 'socket error' : `HTTP ${status}`} ${body}`
          this.failures.set(key, (this.failures.get(key) ?? 0) + 1)
          fire(slot)
        }
        const succeed = () => {
          if (settled) return
          settled = true
          const end = performance.now()
          if (start >= measureFrom && end <= stopAt) this.#latencies.push(end - start)
          fire(slot)
        }
        if (CLIENT === 'raw') {
          let connection = this.#raw[slot]
          if (!connection?.usable) this.#raw[slot] = connection = new RawConnection(url)
          connection.send(
            wire(r),
            (status, body) => (status === 200 ? succeed() : fail(status, body.toString('utf8').slice(0, 500))),
            (e) => fail(0, e.message),
          )
          return
        }
        const req = request({ host: url.hostname, port: url.port, method: r.method, path: r.path, headers: r.headers, agent: this.#agents[t] }, (res) => {
          const status = res.statusCode ?? 0
          res.on('error', (e) => fail(0, e.message))
          if (status === 200) {
            res.on('end', succeed)
            res.resume()
          } else {
            const chunks: Buffer[] = []
            res.on('data', (c: Buffer) => chunks.push(c))
            res.on('end', () => fail(status, Buffer.concat(chunks).toString('utf8').slice(0, 500)))
          }
        })
        req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)))
        req.on('error', (e) => fail(0, e.message))
        req.end(r.body)
      }
      for (let i = 0; i < concurrency; i++) fire(i)
    })
    clearTimeout(startMeasuring)
    // The other scenarios' slices can keep these sockets idle past the server's keep-alive timeout
    // (Node's 5 s); a request racing that close fails with ECONNRESET. Close them now: the next
    // slice reconnects during its unmeasured lead-in.
    this.#closeConnections()
  }

  #closeConnections(): void {
    for (const agent of this.#agents) agent.destroy()
    for (const connection of this.#raw.splice(0)) connection?.close()
  }

  result(): ScenarioResult {
    this.#closeConnections()
    const sorted = Float64Array.from(this.#latencies).sort()
    const seconds = this.#measuredMs / 1000
    const share = (ticks: number | null) => (ticks === null ? null : ticks / CLK_TCK / seconds)
    const bench = this.#benchCpuUs / 1e6 / seconds
    const server = share(this.#serverTicks)
    const serverMain = share(this.#serverMainTicks)
    const hsm = share(this.#hsmTicks)
    const idle = this.#machineIdle === null || this.#machineTotal === 0 ? null : this.#machineIdle / this.#machineTotal
    const other = idle === null || server === null || hsm === null ? null : Math.max(0, (1 - idle) * cpus().length - bench - server - hsm)
    return {
      name: this.name,
      concurrency: this.concurrency,
      requests: sorted.length,
      seconds,
      rps: sorted.length / seconds,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      errors: this.#errors,
      cpu: { bench, server, serverMain, hsm, other, idle },
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Main

function pad(s: string, n: number, right = false): string {
  return right ? s.padEnd(n) : s.padStart(n)
}

function pct(x: number | null): string {
  return x === null ? '-' : `${Math.round(x * 100)}`
}

/** CPU time per request in microseconds, from a share of one core and a request rate. */
function perRequest(share: number | null, rps: number): string {
  return share === null || rps === 0 ? '-' : ((share * 1e6) / rps).toFixed(0)
}

/**
 * The authorisation scenario's key and caller: an IAM user `bench-app` with an inline identity
 * policy (3 statements: a conditional allow of Encrypt/Decrypt/GenerateDataKey* for its usual
 * purposes, a Deny of ScheduleKeyDeletion, an allow of Describe*) and its own access key; a key
 * whose 6-statement policy trusts the account root for Encrypt (so identity policies decide) besides
 * conditional statements like those real key policies carry; and 20 grants to the user, of which
 * only the last allows Encrypt (EncryptionContextSubset purpose=bench). The bench's contexts carry
 * purpose=bench, which the identity policy's allow does not cover: every Encrypt evaluates the key
 * policy and the identity policy in full (conditions, explicit denies), finds no allow, and is
 * allowed by the grants.
 */
async function grantedKey(url: URL): Promise<{ keyArn: string; credentials: Credentials }> {
  const { KeyMetadata } = await call(url, 'CreateKey', { Description: 'bench key with grants' })
  const arn: string = KeyMetadata.Arn
  const account: string = KeyMetadata.AWSAccountId
  const root = `arn:aws:iam::${account}:root`
  const userName = `bench-app-${randomBytes(4).toString('hex')}`
  const userArn = xmlField(await iamCall(url, { Action: 'CreateUser', UserName: userName }), 'Arn')
  const identityPolicy = {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'UseKeysForApp', Effect: 'Allow', Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*'], Resource: `arn:aws:kms:*:${account}:key/*`, Condition: { StringEquals: { 'kms:EncryptionContext:purpose': ['orders', 'invoices'] } } },
      { Sid: 'NeverDelete', Effect: 'Deny', Action: 'kms:ScheduleKeyDeletion', Resource: '*' },
      { Sid: 'Inspect', Effect: 'Allow', Action: 'kms:Describe*', Resource: `arn:aws:kms:*:${account}:key/*` },
    ],
  }
  await iamCall(url, { Action: 'PutUserPolicy', UserName: userName, PolicyName: 'kms-use', PolicyDocument: JSON.stringify(identityPolicy) })
  const keyXml = await iamCall(url, { Action: 'CreateAccessKey', UserName: userName })
  const credentials = { accessKeyId: xmlField(keyXml, 'AccessKeyId'), secretAccessKey: xmlField(keyXml, 'SecretAccessKey') }
  const policy = {
    Version: '2012-10-17',
    Id: 'bench-realistic',
    Statement: [
      { Sid: 'Admin', Effect: 'Allow', Principal: { AWS: root }, Action: ['kms:Create*', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*', 'kms:Disable*', 'kms:Get*', 'kms:Delete*', 'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion', 'kms:RetireGrant'], Resource: '*' },
      { Sid: 'EncryptThroughIAM', Effect: 'Allow', Principal: { AWS: root }, Action: ['kms:Encrypt', 'kms:GenerateDataKey*'], Resource: '*', Condition: { StringEquals: { 'kms:CallerAccount': account } } },
      { Sid: 'OnlyThisAccount', Effect: 'Deny', Principal: '*', Action: 'kms:*', Resource: '*', Condition: { StringNotEquals: { 'kms:CallerAccount': account } } },
      { Sid: 'DecryptForTenants', Effect: 'Allow', Principal: { AWS: root }, Action: 'kms:Decrypt', Resource: '*', Condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['purpose', 'tenant'] }, StringLike: { 'kms:EncryptionContext:tenant': 't-*' } } },
      { Sid: 'NoPlaintextDataKeysOffHours', Effect: 'Deny', Principal: '*', Action: 'kms:GenerateDataKey', Resource: '*', Condition: { DateLessThan: { 'aws:CurrentTime': '2000-01-01T00:00:00Z' } } },
      { Sid: 'TaggedOnly', Effect: 'Deny', Principal: '*', Action: 'kms:ReEncrypt*', Resource: '*', Condition: { 'Null': { 'aws:ResourceTag/app': 'true' } } },
    ],
  }
  await call(url, 'PutKeyPolicy', { KeyId: arn, Policy: JSON.stringify(policy) })
  for (let i = 0; i < 20; i++) {
    const last = i === 19
    await call(url, 'CreateGrant', {
      KeyId: arn,
      GranteePrincipal: userArn,
      Operations: last ? ['Encrypt', 'Decrypt'] : ['Decrypt'],
      Constraints: last ? { EncryptionContextSubset: { purpose: 'bench' } } : { EncryptionContextEquals: { purpose: 'other', tenant: `x-${i}` } },
      Name: `bench-grant-${i}`,
    })
  }
  return { keyArn: arn, credentials }
}

/** Encrypt requests of `size` random bytes for `url`, with the scenario's encryption contexts. */
async function encryptPool(url: URL, keyArn: string, size: number, credentials?: Credentials): Promise<PreparedRequest[]> {
  const out: PreparedRequest[] = []
  for (let i = 0; i < POOL; i++) {
    out.push(await signedRequest(url, 'Encrypt', { KeyId: keyArn, Plaintext: randomBytes(size).toString('base64'), EncryptionContext: context(i) }, credentials))
  }
  return out
}

function context(i: number): Record<string, string> {
  return { purpose: 'bench', tenant: `t-${i % 8}` }
}

/** Sends every pooled request once: a signing or encoding mistake shows up here as an error, not as a fast stream of 400s. */
async function preflight(name: string, url: URL, pool: readonly PreparedRequest[]): Promise<void> {
  for (const r of pool) {
    const res = await sendOnce(url, r)
    if (res.status !== 200) throw new Error(`${name} pre-flight answered ${res.status}: ${res.body.toString('utf8')}`)
  }
}

/** Prints results as a table; `ratioTitle` heads the ratio column. */
function printTable(results: readonly ScenarioResult[], ratioTitle: string): void {
  const cells = (r: ScenarioResult): string[] => [
    r.name,
    String(r.concurrency),
    r.rps.toFixed(0),
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    String(r.errors),
    r.ratio === undefined ? '' : `${(r.ratio * 100).toFixed(0)}%`,
    r.verdict ?? '',
    `${pct(r.cpu.bench)} ${pct(r.cpu.server)} ${pct(r.cpu.serverMain)} ${pct(r.cpu.hsm)} ${pct(r.cpu.other)}`,
    pct(r.cpu.idle),
    `${perRequest(r.cpu.server, r.rps)} ${perRequest(r.cpu.hsm, r.rps)}`,
  ]
  const titles = ['scenario', 'conc', 'req/s', 'p50 ms', 'p99 ms', 'errors', ratioTitle, 'target', 'CPU% load/server/main/hsm/other', 'idle%', 'CPU µs/req server/hsm']
  const rows = results.map(cells)
  const widths = titles.map((t, i) => Math.max(t.length, ...rows.map((row) => row[i]!.length)))
  const line = (row: string[]) => row.map((c, i) => pad(c, widths[i]!, i === 0)).join('  ')
  console.log(line(titles))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  results.forEach((r, i) => {
    if (i > 0 && results[i - 1]!.concurrency !== r.concurrency) console.log('')
    console.log(line(rows[i]!))
  })
}

/** Figures of a result rounded for BENCH_JSON. */
function jsonResult(r: ScenarioResult): object {
  return {
    ...r,
    rps: Math.round(r.rps),
    p50Ms: Number(r.p50Ms.toFixed(3)),
    p99Ms: Number(r.p99Ms.toFixed(3)),
    ratio: r.ratio === undefined ? undefined : Number(r.ratio.toFixed(3)),
    seconds: Number(r.seconds.toFixed(2)),
    cpu: Object.fromEntries(Object.entries(r.cpu).map(([k, v]) => [k, v === null ? null : Number(v.toFixed(2))])),
  }
}

/** Runs `loads` (of one concurrency) one after the other in round-robin slices. */
async function interleave(loads: readonly Load[]): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    const warmup = round === 0 ? WARMUP : SETTLE
    for (const load of loads) await load.slice(warmup, SECONDS / ROUNDS)
  }
}

const GRANTS_SCENARIO = 'Encrypt 64 B, policies + 20 grants (IAM user)'
/** Sign and Verify of 64-byte RAW messages, per asymmetric key spec and its algorithm (issue 5). */
const SIGNING: Readonly<Record<string, { keySpec: string; algorithm: string }>> = {
  'Sign ECC_NIST_P256': { keySpec: 'ECC_NIST_P256', algorithm: 'ECDSA_SHA_256' },
  'Verify ECC_NIST_P256': { keySpec: 'ECC_NIST_P256', algorithm: 'ECDSA_SHA_256' },
  'Sign RSA_2048': { keySpec: 'RSA_2048', algorithm: 'RSASSA_PSS_SHA_256' },
  'Verify RSA_2048': { keySpec: 'RSA_2048', algorithm: 'RSASSA_PSS_SHA_256' },
}
const SINGLE_SCENARIOS = ['Encrypt 4 KiB', 'Encrypt 64 B', GRANTS_SCENARIO, 'Decrypt 64 B', 'GenerateDataKey AES_256', ...Object.keys(SIGNING)]
/** Authorisation with a realistic policy and grants must keep this share of plain Encrypt's req/s (issue 4). */
const AUTHZ_TARGET = 0.85
const TWO_NODE = 'two-node'
/** The audit case: Encrypt with the trail on against the same server kind with `--audit off`. */
const AUDIT_CASE = 'audit'
const AUDIT_TARGET = 0.85

function selected(name: string): boolean {
  return !ONLY || ONLY.some((o) => name.toLowerCase().startsWith(o.toLowerCase()))
}

/** Sign requests (or Verify requests of signatures made beforehand) of 64 random bytes under a new key. */
async function signingPool(url: URL, scenario: string): Promise<PreparedRequest[]> {
  const { keySpec, algorithm } = SIGNING[scenario]!
  const { KeyMetadata } = await call(url, 'CreateKey', { KeySpec: keySpec, KeyUsage: 'SIGN_VERIFY', Description: 'bench signing key' })
  const out: PreparedRequest[] = []
  for (let i = 0; i < POOL; i++) {
    const request = { KeyId: KeyMetadata.Arn, Message: randomBytes(64).toString('base64'), SigningAlgorithm: algorithm }
    if (scenario.startsWith('Sign')) {
      out.push(await signedRequest(url, 'Sign', request))
    } else {
      const { Signature } = await call(url, 'Sign', request)
      out.push(await signedRequest(url, 'Verify', { ...request, Signature }))
    }
  }
  return out
}

/** The single-node run: SQLite store, every scenario against the /health baseline. */
async function singleNode(failures: Failures): Promise<ScenarioResult[]> {
  const data = tempDataDir()
  let server: TestServer | undefined
  try {
    if (!EXTERNAL_URL) server = await startTestServer(data.dir)
    const serverUrl = EXTERNAL_URL ?? server!.url
    const url = new URL(serverUrl)
    const serverPid = server?.process.pid
    // The HSM child is spawned once the supervisor starts it; it exists by the time we listen.
    const hsmPid = serverPid === undefined ? undefined : childPids(serverPid)[0]
    const pids: Pids = { servers: serverPid === undefined ? [] : [serverPid], hsms: hsmPid === undefined ? [] : [hsmPid] }

    const { KeyMetadata } = await call(url, 'CreateKey', { Description: 'bench key' })
    const keyArn: string = KeyMetadata.Arn

    // Ciphertexts for Decrypt are made beforehand, one per pooled request.
    const decryptPool: PreparedRequest[] = []
    for (let i = 0; i < POOL; i++) {
      const plaintext = randomBytes(64)
      const enc = await call(url, 'Encrypt', { KeyId: keyArn, Plaintext: plaintext.toString('base64'), EncryptionContext: context(i) })
      const req = await signedRequest(url, 'Decrypt', { CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context(i) })
      // Check once that the pooled request really decrypts.
      if (i === 0) {
        const res = await sendOnce(url, req)
        const got = res.status === 200 ? Buffer.from(JSON.parse(res.body.toString('utf8')).Plaintext, 'base64') : undefined
        if (!got || !got.equals(plaintext)) throw new Error(`Decrypt self-check failed: ${res.status} ${res.body.toString('utf8')}`)
      }
      decryptPool.push(req)
    }
    const gdkPool: PreparedRequest[] = []
    for (let i = 0; i < POOL; i++) gdkPool.push(await signedRequest(url, 'GenerateDataKey', { KeyId: keyArn, KeySpec: 'AES_256', EncryptionContext: context(i) }))
    const health: PreparedRequest[] = [{ method: 'GET', path: '/health', headers: { host: url.host }, body: undefined }]

    const scenarios: { name: string; pool: PreparedRequest[]; encrypt: boolean }[] = []
    for (const name of SINGLE_SCENARIOS.filter(selected)) {
      const pool =
        name === 'Encrypt 4 KiB' ? await encryptPool(url, keyArn, 4096)
        : name === 'Encrypt 64 B' ? await encryptPool(url, keyArn, 64)
        : name === GRANTS_SCENARIO ? await grantedKey(url).then((g) => encryptPool(url, g.keyArn, 64, g.credentials))
        : name === 'Decrypt 64 B' ? decryptPool
        : name in SIGNING ? await signingPool(url, name)
        : gdkPool
      scenarios.push({ name, pool, encrypt: name.startsWith('Encrypt') })
    }
    for (const s of scenarios) await preflight(s.name, url, s.pool)

    console.log(`server ${serverUrl} (${server ? `pid ${serverPid}, hsm pid ${hsmPid ?? '?'}, SQLite store` : 'external'}); per scenario ${SECONDS} s measured in ${ROUNDS} interleaved slices, ${WARMUP} s warm-up; pool ${POOL} signed requests per operation`)
    console.log(
      CLIENT === 'raw'
        ? 'load generator: this process, raw sockets (BENCH_CLIENT=raw: pre-serialised requests, answers read by Content-Length), one connection per slot, closed loop\n'
        : 'load generator: this process, node:http keep-alive Agent (maxSockets = concurrency), closed loop\n',
    )

    const results: ScenarioResult[] = []
    for (const c of CONCURRENCY) {
      const baseline = new Load('GET /health (baseline)', [{ url, pool: health }], c, pids, failures)
      const loads = scenarios.map((s) => ({ s, load: new Load(s.name, [{ url, pool: s.pool }], c, pids, failures) }))
      // Round-robin slices: baseline, each operation, baseline, each operation, ...
      await interleave([baseline, ...loads.map((l) => l.load)])
      const base = baseline.result()
      results.push(base)
      for (const { s, load } of loads) {
        const r = load.result()
        r.ratio = base.rps > 0 ? r.rps / base.rps : 0
        if (s.encrypt) r.verdict = r.ratio >= TARGET_RATIO ? 'PASS' : 'BELOW'
        results.push(r)
      }
    }
    printTable(results, 'vs base')
    console.log(`\ntarget: Encrypt >= ${TARGET_RATIO * 100}% of the baseline's req/s at the same concurrency (PASS/BELOW; informative, never fails the run)`)
    for (const c of CONCURRENCY) {
      const plain = results.find((r) => r.name === 'Encrypt 64 B' && r.concurrency === c)
      const granted = results.find((r) => r.name === GRANTS_SCENARIO && r.concurrency === c)
      if (!plain || !granted || plain.rps === 0) continue
      const ratio = granted.rps / plain.rps
      console.log(`authorisation, c=${c}: Encrypt by an IAM user (3-statement identity policy) under a 6-statement conditional key policy + 20 grants runs at ${(ratio * 100).toFixed(0)}% of plain Encrypt 64 B (target >= ${AUTHZ_TARGET * 100}%: ${ratio >= AUTHZ_TARGET ? 'PASS' : 'BELOW'})`)
    }
    return results
  } finally {
    if (server) {
      const code = await server.stop()
      if (code !== 0) console.error(`server exited with ${code}:\n${server.output.slice(-20).join('\n')}`)
    }
    data.cleanup()
  }
}

// ---------------------------------------------------------------------------------------------
// What the audit trail costs

/**
 * Two servers side by side, one writing the audit trail (group-committed, fdatasync before every
 * response) and one started with `--audit off`; Encrypt 64 B on each, interleaved, at every
 * concurrency. The ratio trail/off is what the trail costs.
 */
async function auditCost(failures: Failures): Promise<ScenarioResult[]> {
  const dirs = [tempDataDir(), tempDataDir()]
  const servers: TestServer[] = []
  try {
    servers.push(await startTestServer(dirs[0]!.dir), await startTestServer(dirs[1]!.dir, {}, ['--audit', 'off']))
    const targets: Target[] = []
    for (const s of servers) {
      const url = new URL(s.url)
      const { KeyMetadata } = await call(url, 'CreateKey', { Description: 'bench key' })
      const pool = await encryptPool(url, KeyMetadata.Arn, 64)
      await preflight('Encrypt 64 B', url, pool)
      targets.push({ url, pool })
    }
    const pidsOf = (s: TestServer): Pids => {
      const hsm = childPids(s.process.pid!)[0]
      return { servers: [s.process.pid!], hsms: hsm === undefined ? [] : [hsm] }
    }
    console.log(`\naudit trail cost: Encrypt 64 B on a server writing the trail against one with --audit off, interleaved`)
    const results: ScenarioResult[] = []
    for (const c of CONCURRENCY) {
      const off = new Load('Encrypt 64 B, --audit off', [targets[1]!], c, pidsOf(servers[1]!), failures)
      const on = new Load('Encrypt 64 B, audit trail on', [targets[0]!], c, pidsOf(servers[0]!), failures)
      await interleave([off, on])
      const [base, withTrail] = [off.result(), on.result()]
      withTrail.ratio = base.rps > 0 ? withTrail.rps / base.rps : 0
      withTrail.verdict = withTrail.ratio >= AUDIT_TARGET ? 'PASS' : 'BELOW'
      results.push(base, withTrail)
    }
    printTable(results, 'vs off')
    console.log(`\ntarget: Encrypt with the audit trail >= ${AUDIT_TARGET * 100}% of the req/s with --audit off (informative)`)
    return results
  } finally {
    for (const s of servers) await s.stop()
    for (const d of dirs) d.cleanup()
  }
}

// ---------------------------------------------------------------------------------------------
// Two nodes on one PostgreSQL database

const CLUSTER_SCRIPT = join(ROOT, 'scripts/pg-test-cluster.sh')

function hasPostgresBinaries(): boolean {
  try {
    return readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/pg_ctl`))
  } catch {
    return false
  }
}

/** A TCP port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** Runs scripts/pg-test-cluster.sh `command` with `env`; resolves to the last line it printed. */
function cluster(command: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(CLUSTER_SCRIPT, [command], { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`pg-test-cluster.sh ${command} failed: ${error.message}\n${stderr}`))
      else resolve(stdout.trim().split('\n').at(-1) ?? '')
    })
  })
}

interface TwoNodeRun {
  results: ScenarioResult[]
  /** Aggregate req/s of two nodes over that of one, per concurrency. */
  ratios: { concurrency: number; ratio: number }[]
}

/**
 * Encrypt 64 B against two `trent serve` nodes on one throwaway PostgreSQL cluster (sharing the
 * seal key), the load split evenly across both, against the same load on one of them alone,
 * interleaved. Resolves to a reason when it cannot run.
 */
async function twoNodes(failures: Failures): Promise<TwoNodeRun | string> {
  if (EXTERNAL_URL) return 'BENCH_URL is set'
  const concurrencies = CONCURRENCY.filter((c) => c >= 2)
  if (concurrencies.length === 0) return 'it needs a BENCH_CONCURRENCY of 2 or more'
  if (!hasPostgresBinaries()) return 'no PostgreSQL under /usr/lib/postgresql (apt-get install postgresql)'
  const env = { TRENT_PG_PORT: String(await freePort()), TRENT_PG_DIR: `/tmp/trent-pg-bench-${process.pid}` }
  const dirs = [tempDataDir(), tempDataDir()]
  const servers: TestServer[] = []
  try {
    const dbUrl = await cluster('start', env)
    // Node 1 initialises the database; node 2 gets its seal key and loads the domain.
    servers.push(await startTestServer(dirs[0]!.dir, { TRENT_STORE_URL: dbUrl }))
    copyFileSync(join(dirs[0]!.dir, 'seal.key'), join(dirs[1]!.dir, 'seal.key'))
    servers.push(await startTestServer(dirs[1]!.dir, { TRENT_STORE_URL: dbUrl }))
    const urls = servers.map((s) => new URL(s.url))
    const { KeyMetadata } = await call(urls[0]!, 'CreateKey', { Description: 'bench key, two nodes' })
    const targets: Target[] = []
    for (const url of urls) targets.push({ url, pool: await encryptPool(url, KeyMetadata.Arn as string, 64) })
    for (const t of targets) await preflight(`two-node Encrypt 64 B on ${t.url.host}`, t.url, t.pool)
    const serverPids = servers.map((s) => s.process.pid!)
    const hsmPids = serverPids.map((pid) => childPids(pid)[0])
    const pidsOf = (n: number): Pids => ({
      servers: serverPids.slice(0, n),
      hsms: hsmPids.slice(0, n).every((p) => p !== undefined) ? (hsmPids.slice(0, n) as number[]) : [],
    })

    console.log(`\nTwo nodes on one PostgreSQL database (${redacted(dbUrl)}): ${servers.map((s, i) => `node ${i + 1} ${s.url} pid ${serverPids[i]} hsm ${hsmPids[i] ?? '?'}`).join('; ')}`)
    console.log('Encrypt 64 B: one node alone, then the same number of connections split evenly across both nodes, in interleaved slices')
    console.log('(for "2 nodes" rows the server and hsm columns add up both nodes; PostgreSQL counts as "other")\n')

    const results: ScenarioResult[] = []
    const ratios: TwoNodeRun['ratios'] = []
    for (const c of concurrencies) {
      const one = new Load('Encrypt 64 B, 1 node', targets.slice(0, 1), c, pidsOf(1), failures)
      const two = new Load(`Encrypt 64 B, 2 nodes (${Math.ceil(c / 2)}+${Math.floor(c / 2)})`, targets, c, pidsOf(2), failures)
      await interleave([one, two])
      const r1 = one.result()
      const r2 = two.result()
      r2.ratio = r1.rps > 0 ? r2.rps / r1.rps : 0
      results.push(r1, r2)
      ratios.push({ concurrency: c, ratio: r2.ratio })
    }
    printTable(results, 'vs 1 node')
    console.log(`\ntwo nodes / one node, aggregate Encrypt 64 B req/s: ${ratios.map((r) => `c=${r.concurrency} ${r.ratio.toFixed(2)}x`).join(', ')} (on ${cpus().length} cores shared by the load generator, both nodes, their HSMs and PostgreSQL)`)
    return { results, ratios }
  } finally {
    for (const server of servers) {
      const code = await server.stop()
      if (code !== 0) console.error(`server exited with ${code}:\n${server.output.slice(-20).join('\n')}`)
    }
    for (const d of dirs) d.cleanup()
    await cluster('stop', env).catch((e: unknown) => console.error(String(e)))
  }
}

function redacted(url: string): string {
  const u = new URL(url)
  if (u.password) u.password = '***'
  return u.toString()
}

async function main(): Promise<number> {
  const began = performance.now()
  const failures: Failures = new Map()
  const cpuModel = cpus()[0]?.model ?? 'unknown CPU'
  console.log(`Trent benchmark: ${cpus().length} cores (${cpuModel}), Node ${process.version}`)

  // With BENCH_ONLY naming only the two-node case, the single-node run is left out entirely.
  const results = !ONLY || SINGLE_SCENARIOS.some(selected) ? await singleNode(failures) : []
  const audit = !EXTERNAL_URL && selected(AUDIT_CASE) ? await auditCost(failures) : []
  let twoNode: TwoNodeRun | undefined
  if (selected(TWO_NODE)) {
    const run = await twoNodes(failures)
    if (typeof run === 'string') console.log(`\ntwo-node case on PostgreSQL skipped: ${run}`)
    else twoNode = run
  }

  const all = [...results, ...audit, ...(twoNode?.results ?? [])]
  const totalErrors = all.reduce((n, r) => n + r.errors, 0)
  const disturbed = Math.max(0, ...all.map((r) => r.cpu.other ?? 0))
  if (disturbed > OTHER_CPU_WARNING) {
    console.log(`note: other processes used up to ${pct(disturbed)}% of a core during a scenario; this run's figures are disturbed` +
      (twoNode ? ' (in the two-node case "other" includes PostgreSQL)' : ''))
  }
  console.log(`errors: ${totalErrors}`)
  for (const [what, n] of [...failures].slice(0, 20)) console.log(`  ${n} × ${what}`)
  console.log(`total time ${((performance.now() - began) / 1000).toFixed(1)} s`)
  console.log(
    `BENCH_JSON ${JSON.stringify({
      date: new Date().toISOString(),
      node: process.version,
      cores: cpus().length,
      cpu: cpuModel,
      warmupSeconds: WARMUP,
      seconds: SECONDS,
      rounds: ROUNDS,
      pool: POOL,
      targetRatio: TARGET_RATIO,
      results: results.map(jsonResult),
      ...(audit.length ? { audit: audit.map(jsonResult) } : {}),
      ...(twoNode
        ? { twoNode: { results: twoNode.results.map(jsonResult), ratios: twoNode.ratios.map((r) => ({ ...r, ratio: Number(r.ratio.toFixed(3)) })) } }
        : {}),
    })}`,
  )
  return totalErrors === 0 ? 0 : 1
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e))
    process.exitCode = 1
  },
)
