import { spawn, type ChildProcess } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { KmsError } from '../core/errors.js'
import { zeroize } from '../core/secret.js'
import type { EncryptionContext } from '../core/types.js'
import { PSK_BYTES, openChannel } from './channel.js'
import type { AuditSignature, AuditSigningKey, DataKey, DataKeyPair, Hsm, ImportWrapping, ImportWrappingKey, KeyBinding, KeyMaterialRef, NewKeyMaterial } from './hsm.js'
import { RemoteHsm } from './hsm-client.js'
import type { HsmArgs } from './protocol.js'

/** Options of {@link SupervisedHsm}. */
export interface SupervisedHsmOptions {
  /** Executable of the HSM child, e.g. `process.execPath`. */
  command: string
  /** Its arguments, e.g. `['dist/src/cli/trent.js', 'hsm', '--stdio']`. */
  args: readonly string[]
  env?: NodeJS.ProcessEnv
  cwd?: string
  /**
   * Run against every fresh child after the handshake and before it serves anyone else, e.g.
   * `(hsm) => hsm.loadDomain(sealed)`: a respawned HSM starts empty.
   */
  onStart?: (hsm: Hsm) => Promise<void>
  /** How long a call waits for a (re)start before failing with KMSInternalException. Default 15 000. */
  startWaitMs?: number
  /** Channel handshake timeout per spawn. Default 10 000. */
  handshakeTimeoutMs?: number
  /** Per-call timeout of the underlying {@link RemoteHsm}. */
  callTimeoutMs?: number
  /** First respawn delay, doubled after each quick death up to `maxBackoffMs`. Default 100. */
  initialBackoffMs?: number
  /** Default 5 000. */
  maxBackoffMs?: number
  /** Consecutive spawns that never become ready before giving up for good. Default 5. */
  maxStartFailures?: number
  /** A child that served this long before dying resets the backoff. Default 10 000. */
  stableAfterMs?: number
}

/** Payload of the `exit` event. */
export interface HsmExit {
  pid: number | undefined
  code: number | null
  signal: NodeJS.Signals | null
}

/** Events of {@link SupervisedHsm}. */
export interface SupervisedHsmEvents {
  /** A child was spawned. */
  spawn: [pid: number | undefined]
  /** A child finished its handshake and setup and now serves calls. */
  ready: [pid: number | undefined]
  /** A child exited (or failed to spawn). */
  exit: [info: HsmExit]
  /** The supervisor gave up after `maxStartFailures`; every call now fails. */
  failed: [error: Error]
}

type State = 'starting' | 'ready' | 'failed' | 'closed'

interface Deferred {
  promise: Promise<RemoteHsm>
  resolve: (hsm: RemoteHsm) => void
  reject: (e: Error) => void
}

/**
 * An {@link Hsm} served by a child process that this object spawns, keeps alive and respawns.
 *
 * Each spawn gets a fresh random channel key, written as the first 32 bytes of the child's stdin;
 * the channel then runs over the child's stdin/stdout (its stderr is inherited). After the
 * handshake `onStart` runs, then calls flow. When the child dies, calls in flight fail with
 * KMSInternalException; calls made while it is (re)starting wait up to `startWaitMs`; the child is
 * respawned with exponential backoff. After `maxStartFailures` spawns in a row that never became
 * ready, the supervisor gives up and every call fails.
 */
export class SupervisedHsm extends EventEmitter<SupervisedHsmEvents> implements Hsm {
  readonly #options: SupervisedHsmOptions
  #state: State = 'starting'
  #child: ChildProcess | undefined
  #remote: RemoteHsm | undefined
  #ready: Deferred = deferred()
  #lastError: Error | undefined
  #sleep: { timer: NodeJS.Timeout; wake: () => void } | undefined
  #loop: Promise<void>

  /** Starts the first child at once; await {@link ready} before serving. */
  constructor(options: SupervisedHsmOptions) {
    super()
    this.#options = options
    this.#loop = this.#supervise()
  }

  /** Pid of the current child, if one is running. */
  get pid(): number | undefined {
    return this.#child?.pid
  }

  /** True while a child is ready to serve. */
  get isReady(): boolean {
    return this.#state === 'ready'
  }

  /**
   * Resolves when a child is ready (at once if one is). Rejects if the supervisor gives up or is
   * closed first, with the reason of the last failed start.
   */
  async ready(): Promise<void> {
    await this.#ready.promise
  }

  /** Stops respawning, closes the channel, and kills the child if it does not exit on its own. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return this.#loop
    this.#state = 'closed'
    this.#ready.reject(new Error('HSM supervisor closed'))
    this.#ready = deferred()
    this.#ready.reject(new Error('HSM supervisor closed'))
    this.#sleep?.wake()
    const child = this.#child
    const remote = this.#remote
    this.#remote = undefined
    if (child) {
      const exited = exitOf(child)
      // Ending stdin is the child's signal to zeroise and exit; SIGKILL only if it does not.
      if (remote) await remote.close()
      else child.stdin?.end()
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
      await exited
      clearTimeout(timer)
    }
    await this.#loop
  }

  initDomain(): Promise<Uint8Array> {
    return this.#with((h) => h.initDomain())
  }

  loadDomain(sealedDomain: Uint8Array): Promise<void> {
    return this.#with((h) => h.loadDomain(sealedDomain))
  }

  generateKeyMaterial(binding: KeyBinding): Promise<NewKeyMaterial> {
    return this.#with((h) => h.generateKeyMaterial(binding))
  }

  generateWrappingKey(binding: KeyBinding, wrappingKeySpec: string): Promise<ImportWrappingKey> {
    return this.#with((h) => h.generateWrappingKey(binding, wrappingKeySpec))
  }

  importKeyMaterial(binding: KeyBinding, wrapping: ImportWrapping, encryptedKeyMaterial: Uint8Array): Promise<NewKeyMaterial> {
    return this.#with((h) => h.importKeyMaterial(binding, wrapping, encryptedKeyMaterial))
  }

  encrypt(key: KeyMaterialRef, plaintext: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    return this.#with((h) => h.encrypt(key, plaintext, context))
  }

  decrypt(key: KeyMaterialRef, blob: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    return this.#with((h) => h.decrypt(key, blob, context))
  }

  generateDataKey(
    key: KeyMaterialRef,
    numberOfBytes: number,
    context: EncryptionContext,
    withPlaintext: boolean,
  ): Promise<DataKey> {
    return this.#with((h) => h.generateDataKey(key, numberOfBytes, context, withPlaintext))
  }

  reEncrypt(
    source: KeyMaterialRef,
    blob: Uint8Array,
    sourceContext: EncryptionContext,
    destination: KeyMaterialRef,
    destinationContext: EncryptionContext,
  ): Promise<Uint8Array> {
    return this.#with((h) => h.reEncrypt(source, blob, sourceContext, destination, destinationContext))
  }

  getPublicKey(...args: HsmArgs<'getPublicKey'>): Promise<Uint8Array> {
    return this.#with((h) => h.getPublicKey(...args))
  }

  sign(...args: HsmArgs<'sign'>): Promise<Uint8Array> {
    return this.#with((h) => h.sign(...args))
  }

  verify(...args: HsmArgs<'verify'>): Promise<boolean> {
    return this.#with((h) => h.verify(...args))
  }

  encryptAsymmetric(...args: HsmArgs<'encryptAsymmetric'>): Promise<Uint8Array> {
    return this.#with((h) => h.encryptAsymmetric(...args))
  }

  decryptAsymmetric(...args: HsmArgs<'decryptAsymmetric'>): Promise<Uint8Array> {
    return this.#with((h) => h.decryptAsymmetric(...args))
  }

  reEncryptAsymmetric(...args: HsmArgs<'reEncryptAsymmetric'>): Promise<Uint8Array> {
    return this.#with((h) => h.reEncryptAsymmetric(...args))
  }

  generateMac(...args: HsmArgs<'generateMac'>): Promise<Uint8Array> {
    return this.#with((h) => h.generateMac(...args))
  }

  verifyMac(...args: HsmArgs<'verifyMac'>): Promise<boolean> {
    return this.#with((h) => h.verifyMac(...args))
  }

  deriveSharedSecret(...args: HsmArgs<'deriveSharedSecret'>): Promise<Uint8Array> {
    return this.#with((h) => h.deriveSharedSecret(...args))
  }

  generateDataKeyPair(...args: HsmArgs<'generateDataKeyPair'>): Promise<DataKeyPair> {
    return this.#with((h) => h.generateDataKeyPair(...args))
  }

  generateRandom(numberOfBytes: number): Promise<Uint8Array> {
    return this.#with((h) => h.generateRandom(numberOfBytes))
  }

  wrapSecret(accessKeyId: string, secret: Uint8Array): Promise<Uint8Array> {
    return this.#with((h) => h.wrapSecret(accessKeyId, secret))
  }

  deriveSigningKey(
    accessKeyId: string,
    wrappedSecret: Uint8Array,
    date: string,
    region: string,
    service: string,
  ): Promise<Uint8Array> {
    return this.#with((h) => h.deriveSigningKey(accessKeyId, wrappedSecret, date, region, service))
  }

  createAuditSigningKey(): Promise<AuditSigningKey> {
    return this.#with((h) => h.createAuditSigningKey())
  }

  signAuditDigest(wrappedKey: Uint8Array, message: Uint8Array): Promise<AuditSignature> {
    return this.#with((h) => h.signAuditDigest(wrappedKey, message))
  }

  #with<T>(call: (hsm: RemoteHsm) => Promise<T>): Promise<T> {
    const remote = this.#remote
    if (remote) return call(remote)
    if (this.#state === 'failed' || this.#state === 'closed') return Promise.reject(internalError())
    return this.#waitReady().then(call)
  }

  #waitReady(): Promise<RemoteHsm> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(internalError()), this.#options.startWaitMs ?? 15_000)
      this.#ready.promise.then(
        (remote) => {
          clearTimeout(timer)
          resolve(remote)
        },
        () => {
          clearTimeout(timer)
          reject(internalError())
        },
      )
    })
  }

  async #supervise(): Promise<void> {
    const o = this.#options
    const initialBackoff = o.initialBackoffMs ?? 100
    let backoff = initialBackoff
    let startFailures = 0
    while (!this.#closed()) {
      const child = this.#spawn()
      const exited = exitOf(child)
      let readyAt: number | undefined
      try {
        await this.#start(child, exited)
        readyAt = Date.now()
        startFailures = 0
      } catch (e) {
        this.#lastError = e instanceof Error ? e : new Error(String(e))
        if (!this.#closed()) child.kill('SIGKILL')
        startFailures++
      }
      await exited
      if (this.#closed()) return
      if (startFailures >= (o.maxStartFailures ?? 5)) {
        this.#state = 'failed'
        const error = new Error(`HSM failed to start ${startFailures} times: ${this.#lastError?.message ?? 'unknown'}`)
        this.#ready.reject(error)
        this.emit('failed', error)
        return
      }
      if (readyAt !== undefined && Date.now() - readyAt >= (o.stableAfterMs ?? 10_000)) backoff = initialBackoff
      await this.#pause(backoff)
      backoff = Math.min(backoff * 2, o.maxBackoffMs ?? 5000)
    }
  }

  #spawn(): ChildProcess {
    const o = this.#options
    const child = spawn(o.command, [...o.args], {
      stdio: ['pipe', 'pipe', 'inherit'],
      ...(o.env ? { env: o.env } : {}),
      ...(o.cwd ? { cwd: o.cwd } : {}),
    })
    // EPIPE and friends surface through the channel and the exit event; never as a crash.
    child.stdin?.on('error', noop)
    child.stdout?.on('error', noop)
    this.#child = child
    this.emit('spawn', child.pid)
    exitOf(child).then((info) => {
      if (this.#child === child) this.#child = undefined
      this.emit('exit', info)
    }, noop)
    return child
  }

  /** Handshake and setup for one child; resolves once it serves, rejects if it never will. */
  async #start(child: ChildProcess, exited: Promise<HsmExit>): Promise<void> {
    const { stdin, stdout } = child
    if (!stdin || !stdout) throw new Error('HSM child has no stdio pipes')
    const psk = new Uint8Array(PSK_BYTES)
    randomFillSync(psk)
    let remote: RemoteHsm
    try {
      stdin.write(psk)
      const channel = await openChannel(
        { readable: stdout, writable: stdin },
        { role: 'client', psk, handshakeTimeoutMs: this.#options.handshakeTimeoutMs ?? 10_000 },
      )
      remote = new RemoteHsm(
        channel,
        this.#options.callTimeoutMs !== undefined ? { callTimeoutMs: this.#options.callTimeoutMs } : {},
      )
    } finally {
      zeroize(psk)
    }
    // Whichever is noticed first, a dead channel or a dead child, the other is made to follow.
    void remote.closed.then(() => {
      this.#lost(remote)
      if (this.#child === child && this.#state !== 'closed') child.kill('SIGKILL')
    })
    void exited.then(() => remote.abort())
    if (this.#options.onStart) await this.#options.onStart(remote)
    if (!remote.isOpen) throw new Error(`HSM child ${child.pid} died during setup`)
    if (this.#state !== 'starting') {
      await remote.close()
      throw new Error('HSM supervisor closed')
    }
    this.#remote = remote
    this.#state = 'ready'
    this.#ready.resolve(remote)
    this.emit('ready', child.pid)
  }

  // A method, not a field read: the state changes across awaits, which narrowing does not see.
  #closed(): boolean {
    return this.#state === 'closed'
  }

  /** From the moment a ready child is lost, callers wait for the next one instead of failing on it. */
  #lost(remote: RemoteHsm): void {
    if (this.#remote !== remote) return
    this.#remote = undefined
    if (this.#state === 'ready') {
      this.#state = 'starting'
      this.#ready = deferred()
    }
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer)
        this.#sleep = undefined
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.#sleep = { timer, wake }
    })
  }
}

function deferred(): Deferred {
  let resolve!: (hsm: RemoteHsm) => void
  let reject!: (e: Error) => void
  const promise = new Promise<RemoteHsm>((res, rej) => {
    resolve = res
    reject = rej
  })
  // Nobody may be waiting when a start fails; that is not an unhandled rejection.
  promise.catch(noop)
  return { promise, resolve, reject }
}

const exits = new WeakMap<ChildProcess, Promise<HsmExit>>()

/** One promise per child that settles when it has exited or failed to spawn. */
function exitOf(child: ChildProcess): Promise<HsmExit> {
  let p = exits.get(child)
  if (!p) {
    p = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve({ pid: child.pid, code: child.exitCode, signal: child.signalCode })
        return
      }
      child.once('exit', (code, signal) => resolve({ pid: child.pid, code, signal }))
      // 'error' without a pid is a failed spawn, after which no 'exit' comes.
      child.on('error', () => {
        if (child.pid === undefined) resolve({ pid: undefined, code: null, signal: null })
      })
    })
    exits.set(child, p)
  }
  return p
}

function internalError(): KmsError {
  return new KmsError('KMSInternalException')
}

function noop(): void {}
