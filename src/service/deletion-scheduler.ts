import type { Clock } from '../core/clock.js'
import type { Store } from '../store/store.js'
import type { SystemEvent } from './audit-record.js'

/** The store lease that makes one node at a time run the deletion job. */
export const DELETION_LEASE = 'key-deletion'

export interface DeletionSchedulerOptions {
  store: Store
  clock: Clock
  /** This node's unique id in the lease (several nodes may share one store). */
  holder: string
  /** Time between runs. Default 60 s. */
  intervalMs?: number
  /**
   * How long a taken lease lasts unless renewed. Renewed at every run and between batches; a node
   * that dies holding it blocks the job on the others for at most this long. Default 3 × intervalMs.
   */
  leaseMs?: number
  /** Keys read per batch. Default 100. */
  batchSize?: number
  /** Writes the audit record (AwsServiceEvent DeleteKey) of each deletion; awaited before the next. */
  recordEvent?: (event: SystemEvent) => Promise<void>
  /** Where deletions and failures are reported. Default: stderr. */
  log?: (message: string) => void
}

/**
 * Destroys keys whose ScheduleKeyDeletion window has passed. AWS deletes a key once its
 * DeletionDate is reached; until then the key is PendingDeletion and the key-state rules keep it
 * unusable. Here the deletion happens at the first run at or after that date: at start (catching up
 * on keys that fell due while the server was down) and then every `intervalMs`.
 *
 * Safe with several nodes on one store: a run needs the store lease {@link DELETION_LEASE}, and
 * `Store.deleteKey` deletes only a key still PendingDeletion at the version read, so a
 * CancelKeyDeletion in between wins and no key is deleted twice even if a lease expires mid-run.
 */
export class DeletionScheduler {
  readonly #store: Store
  readonly #clock: Clock
  readonly #holder: string
  readonly #intervalMs: number
  readonly #leaseMs: number
  readonly #batchSize: number
  readonly #log: (message: string) => void
  readonly #recordEvent: ((event: SystemEvent) => Promise<void>) | undefined
  #timer: NodeJS.Timeout | undefined
  /** The last run queued; runs never overlap on one node. */
  #tail: Promise<unknown> = Promise.resolve()
  #started = false
  #stopped = false

  constructor(options: DeletionSchedulerOptions) {
    this.#store = options.store
    this.#clock = options.clock
    this.#holder = options.holder
    this.#intervalMs = options.intervalMs ?? 60_000
    this.#leaseMs = options.leaseMs ?? 3 * this.#intervalMs
    this.#batchSize = options.batchSize ?? 100
    this.#log = options.log ?? ((m) => process.stderr.write(`${m}\n`))
    this.#recordEvent = options.recordEvent
    for (const [name, v] of [['intervalMs', this.#intervalMs], ['leaseMs', this.#leaseMs], ['batchSize', this.#batchSize]] as const) {
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`)
    }
  }

  /**
   * Deletes every key due at the current time, if this node gets the lease; returns how many it
   * deleted (0 when another node holds the lease). Rejects on a store failure. Calls on one
   * scheduler run one after the other.
   */
  runOnce(): Promise<number> {
    const run = this.#tail.then(() => this.#run())
    this.#tail = run.catch(() => undefined)
    return run
  }

  /**
   * Runs once — the catch-up of deletions that fell due while the server was down — and then
   * every intervalMs. Resolves after the first run; failures are logged, never thrown.
   */
  async start(): Promise<void> {
    if (this.#started) throw new Error('DeletionScheduler already started')
    this.#started = true
    await this.#tick()
  }

  /** Stops the timer, waits for a run in progress and gives the lease up. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#tail
    try {
      await this.#store.releaseLease(DELETION_LEASE, this.#holder)
    } catch (e) {
      this.#log(`trent: releasing the ${DELETION_LEASE} lease failed: ${describe(e)}`)
    }
  }

  async #tick(): Promise<void> {
    try {
      await this.runOnce()
    } catch (e) {
      this.#log(`trent: deleting keys due for deletion failed (retrying in ${this.#intervalMs} ms): ${describe(e)}`)
    }
    if (this.#stopped) return
    this.#timer = setTimeout(() => void this.#tick(), this.#intervalMs)
    this.#timer.unref()
  }

  async #run(): Promise<number> {
    let deleted = 0
    for (;;) {
      // Taken (or renewed) before every batch, so a long run keeps it and a lost lease stops the run.
      const now = Math.floor(this.#clock.now())
      if (!(await this.#store.acquireLease(DELETION_LEASE, this.#holder, now, this.#leaseMs))) return deleted
      const due = await this.#store.keysDueForDeletion(now, this.#batchSize)
      let deletedInBatch = 0
      for (const key of due) {
        if (await this.#store.deleteKey(key)) {
          deletedInBatch++
          // The deletion happened; a record that cannot be written is reported, never undone.
          await this.#recordEvent?.({ eventName: 'DeleteKey', key }).catch((e: unknown) =>
            this.#log(`trent: the audit record of deleting ${key.arn} could not be written: ${describe(e)}`),
          )
          this.#log(`trent: deleted key ${key.arn} (deletion date ${new Date(key.deletionDate ?? now).toISOString()})`)
        }
      }
      deleted += deletedInBatch
      // A short batch was the last; a batch that deleted nothing (keys changed meanwhile) would
      // come back the same, so it waits for the next run instead of spinning.
      if (due.length < this.#batchSize || deletedInBatch === 0) return deleted
    }
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e)
}
