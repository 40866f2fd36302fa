/**
 * `npm run bench`: closed-loop HTTP benchmark of a real `trent serve` process.
 *
 * Starts a server on a temporary data dir, creates a key, pre-signs a pool of requests per
 * operation and replays them from N concurrent keep-alive connections for a fixed time per
 * scenario. Every scenario is compared with the unauthenticated `GET /health` of the same server
 * at the same concurrency, measured in slices interleaved with the scenarios' own: ratios survive
 * a noisy machine better than absolute figures. See docs/benchmarks.md.
 *
 * Environment: BENCH_SECONDS (measured seconds per scenario, default 3), BENCH_ROUNDS (interleaved
 * slices those seconds are split into, default 3), BENCH_WARMUP (seconds before a scenario's first
 * slice, default 1), BENCH_CONCURRENCY (comma list, default 1,16,64), BENCH_POOL (distinct signed
 * requests per operation, default 64), BENCH_ONLY (comma list of scenario names to run besides
 * the baseline), BENCH_URL (benchmark a server that is already running, for instance under
 * `node --cpu-prof`, started with the admin credentials of test/e2e/harness.ts; the CPU columns
 * then cover this process only).
 *
 * Exits 1 only when setup or a request fails (non-200 or a socket error); a figure below target
 * never fails the run.
 */
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { Agent, request, type IncomingHttpHeaders } from 'node:http'
import { cpus } from 'node:os'
import { performance } from 'node:perf_hooks'
import { Sha256 } from '@aws-crypto/sha256-js'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import { CREDENTIALS, REGION, startTestServer, tempDataDir, type TestServer } from '../test/e2e/harness.js'

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

/** Signs as the AWS SDKs do; only used while preparing the pools, never in the timed loop. */
const signer = new SignatureV4({ credentials: CREDENTIALS, region: REGION, service: 'kms', sha256: Sha256 })

async function signedRequest(url: URL, target: string, payload: object): Promise<PreparedRequest> {
  const body = Buffer.from(JSON.stringify(payload))
  const headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': `TrentService.${target}`,
    'content-length': String(body.length),
  }
  const unsigned = new HttpRequest({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers, body })
  const signed = await signer.sign(unsigned)
  return { method: 'POST', path: '/', headers: { ...signed.headers }, body }
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

function procTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return undefined
  }
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
  cpu: { bench: number; server: number | null; hsm: number | null; other: number | null; idle: number | null }
  ratio?: number
  verdict?: 'PASS' | 'BELOW'
}

/** Distinct failures ("<scenario> c=<n>: HTTP <status> <body>") and how often each happened. */
type Failures = Map<string, number>

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))
  return sorted[i]!
}

/**
 * One scenario at one concurrency: a keep-alive Agent with `concurrency` sockets and the figures
 * gathered over all its slices. Slices of different scenarios are interleaved by the caller, so a
 * change in the machine's speed during the run hits the baseline and the operations alike.
 */
class Load {
  readonly #agent: Agent
  #next = 0
  readonly #latencies: number[] = []
  #errors = 0
  #measuredMs = 0
  #benchCpuUs = 0
  #serverTicks: number | null = 0
  #hsmTicks: number | null = 0
  #machineIdle: number | null = 0
  #machineTotal = 0

  readonly name: string
  readonly url: URL
  readonly pool: readonly PreparedRequest[]
  readonly concurrency: number
  readonly pids: { server: number | undefined; hsm: number | undefined }
  readonly failures: Failures

  constructor(
    name: string,
    url: URL,
    pool: readonly PreparedRequest[],
    concurrency: number,
    pids: { server: number | undefined; hsm: number | undefined },
    failures: Failures,
  ) {
    this.name = name
    this.url = url
    this.pool = pool
    this.concurrency = concurrency
    this.pids = pids
    this.failures = failures
    this.#agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency })
  }

  /**
   * Keeps `concurrency` requests in flight for `warmupS + measureS` seconds: each slot sends the
   * next request of the pool as soon as its previous one has been answered and read to the end.
   * Only requests that start and finish inside the measured window are counted; errors are
   * counted whenever they happen.
   */
  async slice(warmupS: number, measureS: number): Promise<void> {
    const { url, pool, concurrency, pids } = this
    const measureFrom = performance.now() + warmupS * 1000
    const stopAt = measureFrom + measureS * 1000
    let cpu0: NodeJS.CpuUsage | undefined
    let server0: number | undefined
    let hsm0: number | undefined
    let machine0: ReturnType<typeof machineTicks>
    const startMeasuring = setTimeout(() => {
      cpu0 = process.cpuUsage()
      server0 = pids.server === undefined ? undefined : procTicks(pids.server)
      hsm0 = pids.hsm === undefined ? undefined : procTicks(pids.hsm)
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
        const server1 = pids.server === undefined ? undefined : procTicks(pids.server)
        const hsm1 = pids.hsm === undefined ? undefined : procTicks(pids.hsm)
        const machine1 = machineTicks()
        this.#serverTicks = this.#serverTicks === null || server0 === undefined || server1 === undefined ? null : this.#serverTicks + server1 - server0
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

      const fire = () => {
        if (finished) {
          slotDone()
          return
        }
        const r = pool[this.#next]!
        this.#next = this.#next + 1 === pool.length ? 0 : this.#next + 1
        const start = performance.now()
        // Exactly one outcome per request, whatever mix of events a broken connection produces.
        let settled = false
        const fail = (status: number, body: string) => {
          if (settled) return
          settled = true
          this.#errors += 1
          const key = `${this.name} c=${concurrency}: ${status === 0 ? 'socket error' : `HTTP ${status}`} ${body}`
          this.failures.set(key, (this.failures.get(key) ?? 0) + 1)
          fire()
        }
        const req = request({ host: url.hostname, port: url.port, method: r.method, path: r.path, headers: r.headers, agent: this.#agent }, (res) => {
          const status = res.statusCode ?? 0
          res.on('error', (e) => fail(0, e.message))
          if (status === 200) {
            res.on('end', () => {
              if (settled) return
              settled = true
              const end = performance.now()
              if (start >= measureFrom && end <= stopAt) this.#latencies.push(end - start)
              fire()
            })
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
      for (let i = 0; i < concurrency; i++) fire()
    })
    clearTimeout(startMeasuring)
  }

  result(): ScenarioResult {
    this.#agent.destroy()
    const sorted = Float64Array.from(this.#latencies).sort()
    const seconds = this.#measuredMs / 1000
    const share = (ticks: number | null) => (ticks === null ? null : ticks / CLK_TCK / seconds)
    const bench = this.#benchCpuUs / 1e6 / seconds
    const server = share(this.#serverTicks)
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
      cpu: { bench, server, hsm, other, idle },
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

async function main(): Promise<number> {
  const began = performance.now()
  const data = tempDataDir()
  let server: TestServer | undefined
  try {
    if (!EXTERNAL_URL) server = await startTestServer(data.dir)
    const serverUrl = EXTERNAL_URL ?? server!.url
    const url = new URL(serverUrl)
    const serverPid = server?.process.pid
    // The HSM child is spawned once the supervisor starts it; it exists by the time we listen.
    const hsmPid = serverPid === undefined ? undefined : childPids(serverPid)[0]
    const pids = { server: serverPid, hsm: hsmPid }

    const { KeyMetadata } = await call(url, 'CreateKey', { Description: 'bench key' })
    const keyArn: string = KeyMetadata.Arn

    const context = (i: number) => ({ purpose: 'bench', tenant: `t-${i % 8}` })
    const encryptPool = async (size: number) => {
      const out: PreparedRequest[] = []
      for (let i = 0; i < POOL; i++) {
        out.push(await signedRequest(url, 'Encrypt', { KeyId: keyArn, Plaintext: randomBytes(size).toString('base64'), EncryptionContext: context(i) }))
      }
      return out
    }
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

    const scenarios: { name: string; pool: PreparedRequest[]; encrypt: boolean }[] = [
      { name: 'Encrypt 4 KiB', pool: await encryptPool(4096), encrypt: true },
      { name: 'Encrypt 64 B', pool: await encryptPool(64), encrypt: true },
      { name: 'Decrypt 64 B', pool: decryptPool, encrypt: false },
      { name: 'GenerateDataKey AES_256', pool: gdkPool, encrypt: false },
    ].filter((s) => !ONLY || ONLY.some((o) => s.name.toLowerCase().startsWith(o.toLowerCase())))

    // Every pooled request is sent once before timing: a signing or encoding mistake shows up
    // here as an error, not as a fast stream of 400s.
    for (const s of scenarios) {
      for (const r of s.pool) {
        const res = await sendOnce(url, r)
        if (res.status !== 200) throw new Error(`${s.name} pre-flight answered ${res.status}: ${res.body.toString('utf8')}`)
      }
    }

    const cpuModel = cpus()[0]?.model ?? 'unknown CPU'
    console.log(`Trent benchmark: ${cpus().length} cores (${cpuModel}), Node ${process.version}`)
    console.log(`server ${serverUrl} (${server ? `pid ${serverPid}, hsm pid ${hsmPid ?? '?'}` : 'external'}); per scenario ${SECONDS} s measured in ${ROUNDS} interleaved slices, ${WARMUP} s warm-up; pool ${POOL} signed requests per operation`)
    console.log('load generator: this process, node:http keep-alive Agent (maxSockets = concurrency), closed loop\n')

    const results: ScenarioResult[] = []
    const failures: Failures = new Map()
    for (const c of CONCURRENCY) {
      const baseline = new Load('GET /health (baseline)', url, health, c, pids, failures)
      const loads = scenarios.map((s) => ({ s, load: new Load(s.name, url, s.pool, c, pids, failures) }))
      // Round-robin slices: baseline, each operation, baseline, each operation, ...
      for (let round = 0; round < ROUNDS; round++) {
        const warmup = round === 0 ? WARMUP : SETTLE
        await baseline.slice(warmup, SECONDS / ROUNDS)
        for (const { load } of loads) await load.slice(warmup, SECONDS / ROUNDS)
      }
      const base = baseline.result()
      results.push(base)
      for (const { s, load } of loads) {
        const r = load.result()
        r.ratio = base.rps > 0 ? r.rps / base.rps : 0
        if (s.encrypt) r.verdict = r.ratio >= TARGET_RATIO ? 'PASS' : 'BELOW'
        results.push(r)
      }
    }

    const cells = (r: ScenarioResult): string[] => [
      r.name,
      String(r.concurrency),
      r.rps.toFixed(0),
      r.p50Ms.toFixed(2),
      r.p99Ms.toFixed(2),
      String(r.errors),
      r.ratio === undefined ? '' : `${(r.ratio * 100).toFixed(0)}%`,
      r.verdict ?? '',
      `${pct(r.cpu.bench)} ${pct(r.cpu.server)} ${pct(r.cpu.hsm)} ${pct(r.cpu.other)}`,
      pct(r.cpu.idle),
      `${perRequest(r.cpu.server, r.rps)} ${perRequest(r.cpu.hsm, r.rps)}`,
    ]
    const titles = ['scenario', 'conc', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'vs base', 'target', 'CPU% load/server/hsm/other', 'idle%', 'CPU µs/req server/hsm']
    const rows = results.map(cells)
    const widths = titles.map((t, i) => Math.max(t.length, ...rows.map((row) => row[i]!.length)))
    const line = (row: string[]) => row.map((c, i) => pad(c, widths[i]!, i === 0)).join('  ')
    console.log(line(titles))
    console.log(widths.map((w) => '-'.repeat(w)).join('  '))
    results.forEach((r, i) => {
      if (i > 0 && results[i - 1]!.concurrency !== r.concurrency) console.log('')
      console.log(line(rows[i]!))
    })
    const totalErrors = results.reduce((n, r) => n + r.errors, 0)
    console.log(`\ntarget: Encrypt >= ${TARGET_RATIO * 100}% of the baseline's req/s at the same concurrency (PASS/BELOW; informative, never fails the run)`)
    const disturbed = Math.max(0, ...results.map((r) => r.cpu.other ?? 0))
    if (disturbed > OTHER_CPU_WARNING) {
      console.log(`note: other processes used up to ${pct(disturbed)}% of a core during a scenario; this run's figures are disturbed`)
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
        results: results.map((r) => ({
          ...r,
          rps: Math.round(r.rps),
          p50Ms: Number(r.p50Ms.toFixed(3)),
          p99Ms: Number(r.p99Ms.toFixed(3)),
          ratio: r.ratio === undefined ? undefined : Number(r.ratio.toFixed(3)),
          seconds: Number(r.seconds.toFixed(2)),
          cpu: Object.fromEntries(Object.entries(r.cpu).map(([k, v]) => [k, v === null ? null : Number(v.toFixed(2))])),
        })),
      })}`,
    )
    return totalErrors === 0 ? 0 : 1
  } finally {
    if (server) {
      const code = await server.stop()
      if (code !== 0) console.error(`server exited with ${code}:\n${server.output.slice(-20).join('\n')}`)
    }
    data.cleanup()
  }
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
