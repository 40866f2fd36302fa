import { randomInt } from 'node:crypto'
import { KmsError } from '../core/errors.js'
import { StoreConflictError, type KeyRecord } from '../store/store.js'
import { authorize, type RequestDetails } from './authorize.js'
import type { Caller, ServiceDeps } from './deps.js'
import { resolveKey } from './resolve-key.js'

const ATTEMPTS = 20

/**
 * Reads a key, authorises `action` on it, lets `change` check it and return its next state, and writes that state only if the
 * key did not change meanwhile (optimistic concurrency). On a concurrent change the whole step,
 * checks included, runs again on the fresh record, so two writers never lose an update.
 */
export async function mutateKey(
  deps: ServiceDeps,
  caller: Caller,
  keyIdInput: string,
  action: string,
  change: (key: KeyRecord) => KeyRecord,
  details: RequestDetails = {},
): Promise<KeyRecord> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const key = await resolveKey(deps, caller, keyIdInput, { allowAlias: false })
    await authorize(deps, caller, key, action, details)
    const next = { ...change(key), version: key.version + 1 }
    try {
      await deps.store.updateKey(next)
      return next
    } catch (e) {
      if (!(e instanceof StoreConflictError)) throw e
      // Jittered backoff so writers racing on one key do not collide again in lockstep.
      await new Promise((resolve) => setTimeout(resolve, randomInt(1, 5 * (attempt + 1) + 1)))
    }
  }
  throw new KmsError('ConflictException', 'The key was changed by another request; retry.')
}

/** A copy of `key` without the members named, for states that drop optional fields. */
export function without<K extends keyof KeyRecord>(key: KeyRecord, ...names: K[]): KeyRecord {
  const copy = { ...key }
  for (const n of names) delete copy[n]
  return copy
}
