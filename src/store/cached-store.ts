import type { Clock } from '../core/clock.js'
import type { AliasRecord, KeyMaterialRecord, KeyRecord, Store } from './store.js'

/** Options of {@link CachedStore}. */
export interface CacheOptions {
  clock: Clock
  /**
   * How long a key or alias read may be served from memory. This bounds how long a change made
   * through another node (disable, delete, alias move) can go unseen here; changes made through
   * this store are seen at once. Default 1000 ms.
   */
  ttlMs?: number
  /** Entries kept per map before the oldest are dropped. Default 10,000. */
  maxEntries?: number
}

interface Entry<T> {
  value: T
  expires: number
}

/** A small TTL map that forgets its oldest entries first when full. */
class TtlMap<T> {
  readonly #entries = new Map<string, Entry<T>>()
  readonly #max: number

  constructor(max: number) {
    this.#max = max
  }

  get(key: string, now: number): T | undefined {
    const e = this.#entries.get(key)
    if (!e) return undefined
    if (e.expires <= now) {
      this.#entries.delete(key)
      return undefined
    }
    return e.value
  }

  set(key: string, value: T, expires: number): void {
    this.#entries.delete(key)
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value as string)
    this.#entries.set(key, { value, expires })
  }

  delete(key: string): void {
    this.#entries.delete(key)
  }

  deleteWhere(match: (value: T) => boolean): void {
    for (const [k, e] of this.#entries) if (match(e.value)) this.#entries.delete(k)
  }
}

/**
 * A store that keeps recent key, key-material and alias reads in memory, so the Encrypt/Decrypt
 * hot path does not query the database on every request. Writes go through to the backend and
 * drop what they change from the cache; reads of anything else pass straight through.
 */
export class CachedStore implements Store {
  readonly #store: Store
  readonly #clock: Clock
  readonly #ttl: number
  readonly #keys: TtlMap<KeyRecord | undefined>
  readonly #materials: TtlMap<KeyMaterialRecord>
  readonly #aliases: TtlMap<string | undefined>

  constructor(store: Store, options: CacheOptions) {
    this.#store = store
    this.#clock = options.clock
    this.#ttl = options.ttlMs ?? 1000
    const max = options.maxEntries ?? 10_000
    this.#keys = new TtlMap(max)
    this.#materials = new TtlMap(max)
    this.#aliases = new TtlMap(max)
  }

  #expiry(): number {
    return this.#clock.now() + this.#ttl
  }

  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    const now = this.#clock.now()
    const hit = this.#keys.get(keyId, now)
    if (hit) return hit
    const key = await this.#store.getKey(keyId)
    // Unknown ids are not cached: a key created through another node must be found at once.
    if (key) this.#keys.set(keyId, Object.freeze(key), this.#expiry())
    return key
  }

  async getKeyMaterial(keyId: string, keyMaterialId: string): Promise<KeyMaterialRecord | undefined> {
    const id = `${keyId}/${keyMaterialId}`
    // The EKT bytes are handed out as a copy, as every store does, so no caller can alter the cache.
    const hit = this.#materials.get(id, this.#clock.now())
    if (hit) return { ...hit, ekt: hit.ekt.slice() }
    const material = await this.#store.getKeyMaterial(keyId, keyMaterialId)
    if (material) this.#materials.set(id, Object.freeze({ ...material, ekt: material.ekt.slice() }), this.#expiry())
    return material
  }

  async getAliasTarget(accountId: string, region: string, aliasName: string): Promise<string | undefined> {
    const id = `${accountId}/${region}/${aliasName}`
    const hit = this.#aliases.get(id, this.#clock.now())
    if (hit) return hit
    const target = await this.#store.getAliasTarget(accountId, region, aliasName)
    if (target !== undefined) this.#aliases.set(id, target, this.#expiry())
    return target
  }

  async updateKey(key: KeyRecord): Promise<void> {
    this.#keys.delete(key.keyId)
    try {
      await this.#store.updateKey(key)
    } finally {
      this.#keys.delete(key.keyId)
    }
  }

  async deleteKey(key: KeyRecord): Promise<boolean> {
    try {
      return await this.#store.deleteKey(key)
    } finally {
      this.#forgetKey(key.keyId)
    }
  }

  #forgetKey(keyId: string): void {
    this.#keys.delete(keyId)
    this.#materials.deleteWhere((m) => m.keyId === keyId)
    this.#aliases.deleteWhere((target) => target === keyId)
  }

  #forgetAlias(alias: Pick<AliasRecord, 'accountId' | 'region' | 'aliasName'>): void {
    this.#aliases.delete(`${alias.accountId}/${alias.region}/${alias.aliasName}`)
  }

  async createAlias(alias: AliasRecord): Promise<boolean> {
    this.#forgetAlias(alias)
    return this.#store.createAlias(alias)
  }

  async updateAlias(accountId: string, region: string, aliasName: string, targetKeyId: string, now: number): Promise<boolean> {
    try {
      return await this.#store.updateAlias(accountId, region, aliasName, targetKeyId, now)
    } finally {
      this.#forgetAlias({ accountId, region, aliasName })
    }
  }

  async deleteAlias(accountId: string, region: string, aliasName: string): Promise<boolean> {
    try {
      return await this.#store.deleteAlias(accountId, region, aliasName)
    } finally {
      this.#forgetAlias({ accountId, region, aliasName })
    }
  }

  migrate = (): Promise<void> => this.#store.migrate()
  getSealedDomain = (): ReturnType<Store['getSealedDomain']> => this.#store.getSealedDomain()
  initSealedDomain: Store['initSealedDomain'] = (sealed) => this.#store.initSealedDomain(sealed)
  createKey: Store['createKey'] = (key, material) => this.#store.createKey(key, material)
  listKeys: Store['listKeys'] = (accountId, region, limit, after) => this.#store.listKeys(accountId, region, limit, after)
  keysDueForDeletion: Store['keysDueForDeletion'] = (now, limit) => this.#store.keysDueForDeletion(now, limit)
  acquireLease: Store['acquireLease'] = (name, holder, now, ttlMs) => this.#store.acquireLease(name, holder, now, ttlMs)
  releaseLease: Store['releaseLease'] = (name, holder) => this.#store.releaseLease(name, holder)
  getAlias: Store['getAlias'] = (accountId, region, aliasName) => this.#store.getAlias(accountId, region, aliasName)
  listAliases: Store['listAliases'] = (accountId, region, options) => this.#store.listAliases(accountId, region, options)
  putCredential: Store['putCredential'] = (credential) => this.#store.putCredential(credential)
  getCredential: Store['getCredential'] = (accessKeyId) => this.#store.getCredential(accessKeyId)
  close = (): Promise<void> => this.#store.close()
}
