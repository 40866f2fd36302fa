import { isKeyId, parseArn } from '../../core/arn.js'
import { StoreConflictError, type KeyRecord, type Store } from '../../store/store.js'
import { checkTags } from '../tags.js'
import { CANARY_TAG, isCanaryKey, type CanaryContext } from './canary.js'

/** The key named by a key id or key ARN, or an error naming what was given. */
async function findKey(store: Store, keyRef: string): Promise<KeyRecord> {
  const arn = keyRef.startsWith('arn:') ? parseArn(keyRef) : undefined
  const id = arn ? (arn.service === 'kms' && arn.resource.startsWith('key/') ? arn.resource.slice(4) : '') : keyRef
  const key = isKeyId(id) ? await store.getKey(id) : undefined
  if (!key || (arn && (key.arn !== keyRef))) throw new Error(`no key ${keyRef} (give a key id or key ARN)`)
  return key
}

/**
 * `trent admin canary add|remove`: sets or removes the canary tag on a key, straight in the store
 * and without any key policy (an administrator's act, like create-account). The tag is the only
 * canary mark, so this is what TagResource/UntagResource would do; serving nodes see it within
 * their metadata cache TTL (at once on PostgreSQL, through the store's change notifications).
 * Returns the key and whether anything changed.
 */
export async function markCanary(store: Store, keyRef: string, mark: { canary: true; value: string } | { canary: false }): Promise<{ key: KeyRecord; changed: boolean }> {
  for (let attempt = 0; ; attempt++) {
    const key = await findKey(store, keyRef)
    const existing = key.tags.find((t) => t.TagKey === CANARY_TAG)
    const others = key.tags.filter((t) => t.TagKey !== CANARY_TAG)
    if (mark.canary ? existing?.TagValue === mark.value : !existing) return { key, changed: false }
    if (mark.canary) checkTags([{ TagKey: CANARY_TAG, TagValue: mark.value }], key.tags)
    const tags = mark.canary ? [...others, { TagKey: CANARY_TAG, TagValue: mark.value }] : others
    const next = { ...key, tags, version: key.version + 1 }
    try {
      await store.updateKey(next)
      return { key: next, changed: true }
    } catch (e) {
      // Another writer changed the key meanwhile: read it again and reapply.
      if (!(e instanceof StoreConflictError) || attempt >= 10) throw e
    }
  }
}

/**
 * Keeps `observer`'s canary context pairs in step with those marked in the store: reads them now,
 * then every `intervalMs`. A failed read keeps the pairs known so far (logged once per outage).
 */
export async function followCanaryContexts(
  store: Pick<Store, 'listCanaryContexts'>,
  observer: { setStoredCanaryContexts(pairs: readonly CanaryContext[]): void },
  intervalMs: number,
  log: (message: string) => void,
): Promise<{ stop(): void }> {
  observer.setStoredCanaryContexts(await store.listCanaryContexts())
  let failing = false
  let issued = 0
  let applied = 0
  const timer = setInterval(() => {
    const n = ++issued
    store.listCanaryContexts().then(
      (pairs) => {
        failing = false
        // A slow read that a later one overtook would bring back older marks.
        if (n < applied) return
        applied = n
        observer.setStoredCanaryContexts(pairs)
      },
      (e: unknown) => {
        if (!failing) log(`trent: reading the canary contexts failed (keeping the last ones read): ${e instanceof Error ? e.message : String(e)}`)
        failing = true
      },
    )
  }, intervalMs)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}

/** The canary keys of one account and region. */
export async function listCanaryKeys(store: Store, accountId: string, region: string): Promise<KeyRecord[]> {
  const out: KeyRecord[] = []
  let after: string | undefined
  do {
    const page = await store.listKeys(accountId, region, 1000, after)
    out.push(...page.keys.filter(isCanaryKey))
    after = page.nextMarker
  } while (after !== undefined)
  return out
}
