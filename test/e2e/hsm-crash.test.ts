import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSServiceException, type KMSClient } from '@aws-sdk/client-kms'
import { kmsClient, startTestServer, tempDataDir, type TestServer } from './harness.js'

const CONCURRENCY = 20
/** Upper bound on calls per load phase, so that a fast machine does not run unbounded. */
const MAX_CALLS_PER_PHASE = 4000
/** No single call may take longer: one that does counts as a hang. */
const CALL_DEADLINE_MS = 20_000
const PHASE_TIMEOUT_MS = 30_000

/** Pids of the live (non-zombie) children of `ppid`, read from /proc. */
function childPids(ppid: number): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue // exited meanwhile
    }
    // pid (comm) state ppid ...; comm may contain spaces and parentheses.
    const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (Number(parent) === ppid && state !== 'Z' && state !== 'X') out.push(Number(name))
  }
  return out
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return []
  }
}

/** The pid of the `trent hsm` child of the serve process, when exactly one runs. */
function hsmPid(servePid: number): number | undefined {
  const hsms = childPids(servePid).filter((pid) => cmdline(pid).includes('hsm'))
  return hsms.length === 1 ? hsms[0] : undefined
}

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** `p`, or 'timeout' if it has not settled within `ms`; the timer never outlives the race. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((ok) => {
    timer = setTimeout(() => ok('timeout'), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Polls `probe` every `intervalMs` until it returns a value other than undefined, or fails after `timeoutMs`. */
async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(intervalMs)
  }
}

interface Outcome {
  op: 'Encrypt' | 'Decrypt'
  startedAt: number
  endedAt: number
  /** 'ok', an AWS exception name, or 'timeout:…' / 'other:…' for anything that is not an answer. */
  result: string
}

describe('the HSM child crashes under load', { timeout: 180_000 }, () => {
  const data = tempDataDir()
  let server: TestServer
  let kms: KMSClient
  let keyArn: string
  const context = { purpose: 'hsm-crash' }
  const preCrash: { plaintext: Buffer; blob: Uint8Array }[] = []

  before(async () => {
    server = await startTestServer(data.dir)
    kms = kmsClient(server.url)
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 'crash test' }))
    keyArn = KeyMetadata!.Arn!
    for (let i = 0; i < 10; i++) {
      const plaintext = Buffer.from(`before the crash #${i}`)
      const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: plaintext, EncryptionContext: context }))
      preCrash.push({ plaintext, blob: CiphertextBlob! })
    }
  })
  after(async () => {
    kms?.destroy()
    if (server) {
      if ((await within(server.stop(), 15_000)) === 'timeout') server.process.kill('SIGKILL')
    }
    data.cleanup()
  })

  async function call(op: 'Encrypt' | 'Decrypt', i: number): Promise<Outcome> {
    const startedAt = Date.now()
    const abortSignal = AbortSignal.timeout(CALL_DEADLINE_MS)
    let result = 'ok'
    try {
      if (op === 'Encrypt') {
        const plaintext = Buffer.from(`load ${i}`)
        const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: plaintext, EncryptionContext: context }), { abortSignal })
        // A ciphertext made while the HSM was dying must still be a good one.
        // (Its Decrypt may itself meet the crash; that is recorded like any other call.)
        const back = await kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context }), { abortSignal })
        assert.deepEqual(Buffer.from(back.Plaintext!), plaintext)
      } else {
        const sample = preCrash[i % preCrash.length]!
        const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob: sample.blob, EncryptionContext: context }), { abortSignal })
        assert.deepEqual(Buffer.from(Plaintext!), sample.plaintext)
      }
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e
      if (e instanceof KMSServiceException) result = e.name
      else if (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError' || abortSignal.aborted)) result = `timeout:${e.name}`
      else result = `other:${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`
    }
    return { op, startedAt, endedAt: Date.now(), result }
  }

  /**
   * Runs CONCURRENCY workers issuing Encrypt/Decrypt until `until` says stop (checked after every
   * call) or MAX_CALLS_PER_PHASE calls were made. Fails if the workers do not finish in time.
   */
  async function load(outcomes: Outcome[], until: () => boolean): Promise<void> {
    let issued = 0
    const worker = async (w: number): Promise<void> => {
      while (!until() && issued < MAX_CALLS_PER_PHASE) {
        const n = issued++
        outcomes.push(await call((n + w) % 2 === 0 ? 'Encrypt' : 'Decrypt', n))
      }
    }
    const all = Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)))
    const r = await within(all, PHASE_TIMEOUT_MS + CALL_DEADLINE_MS)
    assert.notEqual(r, 'timeout', 'the load workers did not finish in time (a call hung)')
  }

  it('in-flight calls fail only with KMSInternalException, the HSM respawns with a new pid, and work resumes', async (t) => {
    const servePid = server.process.pid!
    let pid = await waitFor('the HSM child', () => hsmPid(servePid), 10_000)
    assert.ok(isAlive(pid))

    for (const round of [1, 2]) {
      const outcomes: Outcome[] = []
      let killedAt = Number.POSITIVE_INFINITY
      const phaseEnd = Date.now() + PHASE_TIMEOUT_MS
      const okBefore = () => outcomes.filter((o) => o.result === 'ok' && o.endedAt < killedAt).length
      // Enough successes whose calls started after the kill means the new HSM serves.
      const okAfter = () => outcomes.filter((o) => o.result === 'ok' && o.startedAt > killedAt).length
      const running = load(outcomes, () => okAfter() >= 40 || Date.now() > phaseEnd)

      await waitFor('steady load before the kill', () => (okBefore() >= 60 ? true : undefined), PHASE_TIMEOUT_MS, 10)
      const inFlight = outcomes.length
      killedAt = Date.now()
      process.kill(pid, 'SIGKILL')
      await running

      const failures = outcomes.filter((o) => o.result !== 'ok')
      const results = new Map<string, number>()
      for (const o of outcomes) results.set(o.result, (results.get(o.result) ?? 0) + 1)
      t.diagnostic(`round ${round}: ${outcomes.length} calls (${inFlight} done before the kill): ${JSON.stringify(Object.fromEntries(results))}`)
      assert.deepEqual(
        [...new Set(failures.map((o) => o.result))].filter((r) => r !== 'KMSInternalException'),
        [],
        'calls may fail only with KMSInternalException',
      )
      assert.ok(failures.every((o) => o.endedAt >= killedAt), 'nothing failed before the kill')
      assert.ok(okAfter() >= 40, `only ${okAfter()} calls started after the kill succeeded within ${PHASE_TIMEOUT_MS} ms`)

      // The front end survived, and a new HSM with a new pid serves.
      assert.equal(server.process.exitCode, null)
      assert.equal(server.process.signalCode, null)
      assert.ok(isAlive(servePid))
      assert.equal((await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(5000) })).status, 200)
      const newPid = await waitFor('a new HSM child', () => {
        const p = hsmPid(servePid)
        return p !== undefined && p !== pid ? p : undefined
      }, 15_000)
      assert.equal(isAlive(pid), false, `the killed HSM ${pid} is still alive`)
      assert.ok(isAlive(newPid))
      pid = newPid
    }

    // Ciphertexts made before the crashes still decrypt; new ones round trip.
    for (const { plaintext, blob } of preCrash) {
      const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context }))
      assert.deepEqual(Buffer.from(Plaintext!), plaintext)
    }
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('after'), EncryptionContext: context }))
    const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context }))
    assert.equal(Buffer.from(Plaintext!).toString(), 'after')
    assert.ok(server.output.every((l) => !/unhandled|uncaught/i.test(l)), server.output.join('\n'))
  })
})
