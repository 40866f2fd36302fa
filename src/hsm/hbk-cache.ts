import type { Clock } from '../core/clock.js'
import { KmsError } from '../core/errors.js'
import { zeroize } from '../core/secret.js'

/** Options of {@link HbkCache}. */
export interface HbkCacheOptions {
  /** Most HBKs held at once; 0 disables the cache. */
  maxEntries: number
  /** How long an HBK may stay in memory after it was unwrapped, in milliseconds. */
  ttlMs: number
  clock: Clock
}

interface Entry<V> {
  hbk: V
  expiresAt: number
}

/**
 * A bounded LRU cache of unwrapped HBKs with a time-to-live counted from the unwrap, not from the
 * last use, so even a busy key is re-unwrapped (and its domain key re-checked) once per TTL.
 * Every HBK that leaves the cache — evicted, expired, replaced or cleared — is zeroised.
 *
 * The cache owns what it holds: a caller must not zeroise an HBK it got from {@link get}, and must
 * use it before its next call into the cache.
 *
 * The HSM also keeps parsed private keys (node:crypto KeyObjects) in one, under the same bounds:
 * OpenSSL frees those when they are collected, as JavaScript cannot overwrite them.
 */
export class HbkCache<V extends Uint8Array | object = Uint8Array> {
  readonly #entries = new Map<string, Entry<V>>()
  readonly #maxEntries: number
  readonly #ttlMs: number
  readonly #clock: Clock

  constructor(options: HbkCacheOptions) {
    /* Precondition: The HBK cache size is a whole number of entries, zero or more. */
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 0) {
      throw new KmsError('KMSInternalException', 'HBK cache size must be a whole number >= 0')
    }
    /* Precondition: The HBK cache time-to-live is a positive number of milliseconds. */
    if (!(options.ttlMs > 0)) {
      throw new KmsError('KMSInternalException', 'HBK cache TTL must be positive')
    }
    this.#maxEntries = options.maxEntries
    this.#ttlMs = options.ttlMs
    this.#clock = options.clock
  }

  /** False when the cache was built with `maxEntries: 0` and keeps nothing. */
  get enabled(): boolean {
    return this.#maxEntries > 0
  }

  /** Number of HBKs held. */
  get size(): number {
    return this.#entries.size
  }

  /** The HBK cached under `key`, if it has not expired; a hit becomes the most recently used. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    this.#entries.delete(key)
    if (entry.expiresAt <= this.#clock.now()) {
      dispose(entry.hbk)
      return undefined
    }
    this.#entries.set(key, entry)
    return entry.hbk
  }

  /**
   * Takes ownership of `hbk`, evicting expired entries and then the least recently used. When the
   * cache is disabled this does nothing and the caller keeps ownership.
   */
  set(key: string, hbk: V): void {
    if (!this.enabled) return
    const previous = this.#entries.get(key)
    if (previous !== undefined && previous.hbk !== hbk) dispose(previous.hbk)
    this.#entries.delete(key)
    this.sweep()
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done === true) break
      this.#evict(oldest.value)
    }
    this.#entries.set(key, { hbk, expiresAt: this.#clock.now() + this.#ttlMs })
  }

  /** Zeroises and drops every expired entry. */
  sweep(): void {
    const now = this.#clock.now()
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.#evict(key)
    }
  }

  /** Zeroises and drops every entry. */
  clear(): void {
    for (const key of [...this.#entries.keys()]) this.#evict(key)
  }

  #evict(key: string): void {
    const entry = this.#entries.get(key)
    if (entry === undefined) return
    dispose(entry.hbk)
    this.#entries.delete(key)
  }
}

function dispose(value: object): void {
  if (value instanceof Uint8Array) zeroize(value)
}
