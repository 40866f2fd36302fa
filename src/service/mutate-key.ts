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
      await backOff(e, attempt)
    }
  }
  throw conflict()
}

/**
 * Runs `step` on `key`, and again on the freshest record of it each time its conditional write
 * meets a concurrent change (StoreConflictError), as {@link mutateKey} does for steps that write
 * more than the key record (key material). A key deleted meanwhile ends the retries.
 */
export async function retryOnConflict<T>(deps: ServiceDeps, key: KeyRecord, step: (key: KeyRecord) => Promise<T>): Promise<T> {
  let current: KeyRecord | undefined = key
  for (let attempt = 0; attempt < ATTEMPTS && current !== undefined; attempt++) {
    try {
      return await step(current)
    } catch (e) {
      await backOff(e, attempt)
      current = await deps.store.getKey(key.keyId)
    }
  }
  throw conflict()
}

/** Rethrows anything but a write conflict; waits a jittered while so racing writers do not collide again in lockstep. */
async function backOff(e: unknown, attempt: number): Promise<void> {
  if (!(e instanceof StoreConflictError)) throw e
  await new Promise((resolve) => setTimeout(resolve, randomInt(1, 5 * (attempt + 1) + 1)))
}

function conflict(): KmsError {
  // Guessed wording: AWS does not document an answer to a lost optimistic write.
  return new KmsError('ConflictException', 'The key was changed by another request; retry.')
}

/** A copy of `key` without the members named, for states that drop optional fields. */
export function without<K extends keyof KeyRecord>(key: KeyRecord, ...names: K[]): KeyRecord {
  const copy = { ...key }
  for (const n of names) delete copy[n]
  return copy
}
