import { aliasArn, isKeyId, keyArn, parseArn } from '../core/arn.js'
import { KmsError } from '../core/errors.js'
import type { KeyMaterialRef } from '../hsm/hsm.js'
import type { KeyRecord } from '../store/store.js'
import { type Caller, type ServiceDeps, traceKey } from './deps.js'

/** How an operation names keys: whether aliases count, and whether it is one AWS allows across accounts. */
export interface ResolveOptions {
  allowAlias: boolean
  /**
   * True for the operations AWS marks "Cross-account use: Yes" (Encrypt, Decrypt, ReEncrypt,
   * GenerateDataKey*, DescribeKey, CreateGrant, ListGrants, RetireGrant, RevokeGrant, ...): they
   * take a key or alias ARN of another account, and the key policy then decides. The others
   * (management operations) answer a key ARN of another account as a key that does not exist in
   * the caller's account, so they never tell whether it exists.
   */
  crossAccount?: boolean
}

/**
 * Resolves a KeyId as the API accepts it — key id, key ARN, alias name or alias ARN — to a key of
 * the caller's region. Every operation goes through here, so the identifier rules live in one place.
 * A key id or alias name always means the caller's account; another account's key only by ARN.
 */
export async function resolveKey(
  deps: ServiceDeps,
  caller: Caller,
  keyIdInput: string,
  options: ResolveOptions = { allowAlias: true },
): Promise<KeyRecord> {
  let account = caller.accountId
  let resource = keyIdInput
  if (keyIdInput.startsWith('arn:')) {
    const arn = parseArn(keyIdInput)
    if (!arn || arn.service !== 'kms' || arn.partition !== deps.partition) throw new KmsError('NotFoundException', `Invalid arn ${keyIdInput}`)
    if (arn.region !== deps.region) throw new KmsError('NotFoundException', `Invalid arn ${arn.region}`)
    account = arn.account
    resource = arn.resource
    if (!resource.startsWith('key/') && !resource.startsWith('alias/')) throw new KmsError('NotFoundException', `Invalid arn ${keyIdInput}`)
    if (resource.startsWith('key/')) resource = resource.slice(4)
    if (account !== caller.accountId && !options.crossAccount) {
      if (resource.startsWith('alias/') && !options.allowAlias) throw new KmsError('NotFoundException', `Invalid keyId '${keyIdInput}'`)
      if (resource.startsWith('alias/')) throw new KmsError('NotFoundException', `Alias ${aliasArn(deps.partition, deps.region, caller.accountId, resource)} is not found.`)
      if (!isKeyId(resource)) throw new KmsError('NotFoundException', `Invalid keyId '${keyIdInput}'`)
      throw new KmsError('NotFoundException', `Key '${keyArn(deps.partition, deps.region, caller.accountId, resource)}' does not exist`)
    }
  }

  if (resource.startsWith('alias/')) {
    if (!options.allowAlias) throw new KmsError('NotFoundException', `Invalid keyId '${keyIdInput}'`)
    const target = await deps.store.getAliasTarget(account, deps.region, resource)
    const key = target === undefined ? undefined : await deps.store.getKey(target)
    if (!key) throw new KmsError('NotFoundException', `Alias ${aliasArn(deps.partition, deps.region, account, resource)} is not found.`)
    return traceKey(caller, key)
  }

  if (!isKeyId(resource)) throw new KmsError('NotFoundException', `Invalid keyId '${keyIdInput}'`)
  const key = await deps.store.getKey(resource)
  if (!key || key.accountId !== account || key.region !== deps.region) {
    throw new KmsError('NotFoundException', `Key '${keyArn(deps.partition, deps.region, account, resource)}' does not exist`)
  }
  return traceKey(caller, key)
}

/** Loads one version of a key's material as the HSM takes it. Undefined when the key has no such version. */
export async function loadMaterial(deps: ServiceDeps, key: KeyRecord, keyMaterialId: string): Promise<KeyMaterialRef | undefined> {
  const m = await deps.store.getKeyMaterial(key.keyId, keyMaterialId)
  // Imported material that expired or was deleted keeps its record but no EKT.
  if (!m || m.ekt.length === 0) return undefined
  return {
    keyArn: key.arn,
    keyId: key.keyId,
    keySpec: key.keySpec,
    origin: key.origin,
    hbkId: new Uint8Array(Buffer.from(m.keyMaterialId, 'hex')),
    ekt: m.ekt,
  }
}

/** The material new encryptions use. A key with usable state always has one. */
export async function currentMaterial(deps: ServiceDeps, key: KeyRecord): Promise<KeyMaterialRef> {
  const ref = key.currentKeyMaterialId === undefined ? undefined : await loadMaterial(deps, key, key.currentKeyMaterialId)
  if (!ref) throw new KmsError('KMSInternalException')
  return ref
}
