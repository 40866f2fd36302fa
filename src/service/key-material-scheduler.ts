import type { Clock } from '../core/clock.js'
import type { Hsm } from '../hsm/hsm.js'
import { StoreConflictError, type KeyMaterialRecord, type KeyRecord, type Store } from '../store/store.js'
import { DAY_MS, deleteImportedMaterial, makeCurrent, rotatable, rotatedMaterial, type SystemEventSink } from './key-material.js'

/** The store lease that makes one node at a time run the key material job. */
export const KEY_MATERIAL_LEASE = 'key-material'

/** Options of {@link KeyMaterialScheduler}. */
export interface KeyMaterialSchedulerOptions {
  store: Store
  hsm: Hsm
  clock: Clock
  /** This node's unique id in the lease. */
  holder: string
  /** Time between runs. Default 60 s. */
  intervalMs?: number
  /** How long a taken lease lasts unless renewed. Default 3 × intervalMs. */
  leaseMs?: number
  /** Keys or materials read per batch. Default 100. */
  batchSize?: number
  /** Receives each rotation and expiry performed (the audit trail). Default: a line on stderr. */
  onSystemEvent?: SystemEventSink
  /** Where failures are reported. Default: stderr. */
  log?: (message: string) => void
}

/** What one run did. */
export interface KeyMaterialRun {
  rotated: number
  expired: number
}

/**
 * The system side of the key material lifecycle: automatic rotation of keys whose
 * NextRotationDate has come, deletion of imported material whose ValidTo has passed, and of
 * import tokens (with their wrapped private keys) that expired unused. Runs at
 * start (catching up on everything that fell due while the server was down: a key overdue by
 * several periods rotates once, and its next date counts from now) and every `intervalMs`.
 *
 * Several nodes on one store: a run needs the lease {@link KEY_MATERIAL_LEASE} (same mechanism as
 * the deletion job), and every change is a conditional write on the key's version, so a rotation or
 * expiry is done exactly once even if a lease expires mid-run; a key changed meanwhile is simply
 * seen again at the next run.
 */
export class KeyMaterialScheduler {
  readonly #o: Required<Omit<KeyMaterialSchedulerOptions, 'onSystemEvent' | 'log'>> & { log: (m: string) => void; onSystemEvent: SystemEventSink }
  #timer: NodeJS.Timeout | undefined
  #tail: Promise<unknown> = Promise.resolve()
  #stopped = false

  constructor(options: KeyMaterialSchedulerOptions) {
    const intervalMs = options.intervalMs ?? 60_000
    const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`))
    this.#o = {
      ...options,
      intervalMs,
      leaseMs: options.leaseMs ?? 3 * intervalMs,
      batchSize: options.batchSize ?? 100,
      log,
      onSystemEvent: options.onSystemEvent ?? ((e) => log(`trent: ${e.eventName} ${e.keyArn} (key material ${e.keyMaterialId})`)),
    }
    for (const name of ['intervalMs', 'leaseMs', 'batchSize'] as const) {
      const v = this.#o[name]
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`)
    }
  }

  /** Performs everything due now if this node gets the lease. Calls run one after the other. */
  runOnce(): Promise<KeyMaterialRun> {
    const run = this.#tail.then(() => this.#run())
    this.#tail = run.catch(() => undefined)
    return run
  }

  /** Runs once (the catch-up) and then every intervalMs; failures are logged, never thrown. */
  async start(): Promise<void> {
    await this.#tick()
  }

  /** Stops the timer, waits for a run in progress and gives the lease up. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#tail
    await this.#o.store.releaseLease(KEY_MATERIAL_LEASE, this.#o.holder).catch((e: unknown) => this.#o.log(`trent: releasing the ${KEY_MATERIAL_LEASE} lease failed: ${String(e)}`))
  }

  async #tick(): Promise<void> {
    try {
      await this.runOnce()
    } catch (e) {
      this.#o.log(`trent: the key material job failed (retrying in ${this.#o.intervalMs} ms): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
    }
    if (this.#stopped) return
    this.#timer = setTimeout(() => void this.#tick(), this.#o.intervalMs)
    this.#timer.unref()
  }

  async #run(): Promise<KeyMaterialRun> {
    const rotated = await this.#batches((now, limit) => this.#o.store.keysDueForRotation(now, limit), (key, now) => this.#rotate(key, now))
    const expired = await this.#batches((now, limit) => this.#o.store.materialsDueForExpiry(now, limit), (m, now) => this.#expire(m, now))
    // Unused import parameters hold wrapped private keys: they go once they can no longer be used.
    await this.#o.store.deleteExpiredImportTokens(Math.floor(this.#o.clock.now()))
    return { rotated, expired }
  }

  /** Works through what `due` returns, renewing the lease before every batch; stops without it. */
  async #batches<T>(due: (now: number, limit: number) => Promise<T[]>, act: (item: T, now: number) => Promise<boolean>): Promise<number> {
    const { store, holder, leaseMs, batchSize } = this.#o
    let done = 0
    for (;;) {
      const now = Math.floor(this.#o.clock.now())
      if (!(await store.acquireLease(KEY_MATERIAL_LEASE, holder, now, leaseMs))) return done
      const items = await due(now, batchSize)
      let doneInBatch = 0
      for (const item of items) if (await act(item, now)) doneInBatch++
      done += doneInBatch
      // A batch that changed nothing (keys changed meanwhile) would come back the same: wait for the next run.
      if (items.length < batchSize || doneInBatch === 0) return done
    }
  }

  async #rotate(key: KeyRecord, now: number): Promise<boolean> {
    if (!rotatable(key) || key.origin !== 'AWS_KMS' || key.rotationPeriodInDays === undefined) return false
    const hsmMaterial = await this.#o.hsm.generateKeyMaterial({ keyArn: key.arn, keyId: key.keyId, keySpec: key.keySpec, origin: key.origin })
    const material = rotatedMaterial(key, hsmMaterial, 'AUTOMATIC', now)
    if (!(await conditional(makeCurrent(this.#o, key, material, { nextRotationDate: now + key.rotationPeriodInDays * DAY_MS })))) return false
    await this.#o.onSystemEvent({ eventName: 'RotateKey', keyArn: key.arn, keyId: key.keyId, accountId: key.accountId, keyMaterialId: material.keyMaterialId, eventTime: now })
    return true
  }

  async #expire(material: KeyMaterialRecord, now: number): Promise<boolean> {
    const key = await this.#o.store.getKey(material.keyId)
    if (!key || !(await conditional(deleteImportedMaterial(this.#o, key, material)))) return false
    await this.#o.onSystemEvent({ eventName: 'DeleteExpiredKeyMaterial', keyArn: key.arn, keyId: key.keyId, accountId: key.accountId, keyMaterialId: material.keyMaterialId, eventTime: now })
    return true
  }
}

/** False when a conditional write lost to another writer (another node, or a request). */
async function conditional(write: Promise<unknown>): Promise<boolean> {
  try {
    await write
    return true
  } catch (e) {
    if (e instanceof StoreConflictError) return false
    throw e
  }
}
