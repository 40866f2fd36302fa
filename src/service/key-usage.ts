import type { KeyUsageRecord, Store } from '../store/store.js'

/** The operations GetKeyLastUsage reports (AWS's KeyLastUsageTrackingOperation values). */
export const TRACKED_OPERATIONS: ReadonlySet<string> = new Set([
  'Decrypt',
  'DeriveSharedSecret',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateMac',
  'ReEncrypt',
  'Sign',
  'Verify',
  'VerifyMac',
])

/**
 * Keys' last cryptographic uses, coalesced: uses are kept in memory (the newest per key) and
 * written to the store in one batch at most every `flushMs`, so a hot key costs one store write a
 * second, not one per request. Reads see this node's unwritten uses at once; other nodes' within
 * about `flushMs`. A crash loses at most the last `flushMs` of uses (their records are in the trail).
 */
export class KeyUsageTracker {
  readonly #store: Store
  readonly #flushMs: number
  readonly #log: (message: string) => void
  #pending = new Map<string, KeyUsageRecord>()
  #timer: NodeJS.Timeout | undefined
  #flushing: Promise<void> = Promise.resolve()

  constructor(store: Store, options: { flushMs?: number; log?: (message: string) => void } = {}) {
    this.#store = store
    this.#flushMs = options.flushMs ?? 1000
    this.#log = options.log ?? ((m) => process.stderr.write(`${m}\n`))
  }

  /** Notes a successful cryptographic use of a key. */
  note(usage: KeyUsageRecord): void {
    const known = this.#pending.get(usage.keyId)
    if (known && known.timestamp > usage.timestamp) return
    this.#pending.set(usage.keyId, usage)
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.flush(), this.#flushMs)
      this.#timer.unref()
    }
  }

  /** A key's last use: this node's unwritten one if newer than the stored one. */
  async lastUsage(keyId: string): Promise<KeyUsageRecord | undefined> {
    const stored = await this.#store.getKeyLastUsage(keyId)
    const pending = this.#pending.get(keyId)
    return pending && (!stored || pending.timestamp >= stored.timestamp) ? pending : stored
  }

  /** Writes the pending uses now (also at shutdown). A failed write keeps them for the next try. */
  flush(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#flushing = this.#flushing.then(async () => {
      const batch = [...this.#pending.values()]
      if (batch.length === 0) return
      this.#pending = new Map()
      try {
        await this.#store.recordKeyUsage(batch)
      } catch (e) {
        this.#log(`trent: recording key usage failed (retrying): ${e instanceof Error ? e.message : String(e)}`)
        for (const u of batch) if (!this.#pending.has(u.keyId)) this.#pending.set(u.keyId, u)
        if (this.#timer === undefined) {
          this.#timer = setTimeout(() => void this.flush(), this.#flushMs)
          this.#timer.unref()
        }
      }
    })
    return this.#flushing
  }
}
