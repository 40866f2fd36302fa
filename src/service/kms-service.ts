import { createHash, randomBytes } from 'node:crypto'
import { zeroize } from '../core/secret.js'
import type { IamRoleRecord, IamTag } from '../store/store.js'
import { KmsError } from '../core/errors.js'
import { requestEvent, type RequestOutcome } from './audit-record.js'
import { TRACKED_OPERATIONS } from './key-usage.js'
import { authorizeByIdentity } from './authorize.js'
import type { Caller, ServiceDeps } from './deps.js'
import { withTags } from './iam/tags.js'
import type { Operation } from './operation.js'
import { cancelKeyDeletion } from './operations/cancel-key-deletion.js'
import { createAlias } from './operations/create-alias.js'
import { createGrant } from './operations/create-grant.js'
import { createKey } from './operations/create-key.js'
import { decrypt } from './operations/decrypt.js'
import { deleteAlias } from './operations/delete-alias.js'
import { describeKey } from './operations/describe-key.js'
import { disableKey } from './operations/disable-key.js'
import { enableKey } from './operations/enable-key.js'
import { encrypt } from './operations/encrypt.js'
import { deriveSharedSecret } from './operations/derive-shared-secret.js'
import { generateDataKey } from './operations/generate-data-key.js'
import { generateDataKeyPair } from './operations/generate-data-key-pair.js'
import { generateDataKeyPairWithoutPlaintext } from './operations/generate-data-key-pair-without-plaintext.js'
import { generateMac } from './operations/generate-mac.js'
import { getPublicKey } from './operations/get-public-key.js'
import { sign } from './operations/sign.js'
import { verify } from './operations/verify.js'
import { verifyMac } from './operations/verify-mac.js'
import { generateDataKeyWithoutPlaintext } from './operations/generate-data-key-without-plaintext.js'
import { generateRandom } from './operations/generate-random.js'
import { getKeyLastUsage } from './operations/get-key-last-usage.js'
import { getKeyPolicy } from './operations/get-key-policy.js'
import { listAliases } from './operations/list-aliases.js'
import { listGrants } from './operations/list-grants.js'
import { listKeyPolicies } from './operations/list-key-policies.js'
import { listKeys } from './operations/list-keys.js'
import { listResourceTags } from './operations/list-resource-tags.js'
import { listRetirableGrants } from './operations/list-retirable-grants.js'
import { putKeyPolicy } from './operations/put-key-policy.js'
import { reEncrypt } from './operations/re-encrypt.js'
import { retireGrant } from './operations/retire-grant.js'
import { revokeGrant } from './operations/revoke-grant.js'
import { scheduleKeyDeletion } from './operations/schedule-key-deletion.js'
import { tagResource } from './operations/tag-resource.js'
import { untagResource } from './operations/untag-resource.js'
import { updateAlias } from './operations/update-alias.js'
import { disableKeyRotation } from './operations/disable-key-rotation.js'
import { enableKeyRotation } from './operations/enable-key-rotation.js'
import { getKeyRotationStatus } from './operations/get-key-rotation-status.js'
import { listKeyRotations } from './operations/list-key-rotations.js'
import { rotateKeyOnDemand } from './operations/rotate-key-on-demand.js'
import { deleteImportedKeyMaterial } from './operations/delete-imported-key-material.js'
import { getParametersForImport } from './operations/get-parameters-for-import.js'
import { importKeyMaterial } from './operations/import-key-material.js'
import { updateKeyDescription } from './operations/update-key-description.js'

const OPERATIONS: ReadonlyMap<string, Operation> = new Map(
  [
    cancelKeyDeletion,
    createAlias,
    createGrant,
    createKey,
    decrypt,
    deleteAlias,
    deleteImportedKeyMaterial,
    describeKey,
    disableKey,
    disableKeyRotation,
    enableKey,
    enableKeyRotation,
    encrypt,
    deriveSharedSecret,
    generateDataKey,
    generateDataKeyPair,
    generateDataKeyPairWithoutPlaintext,
    generateDataKeyWithoutPlaintext,
    generateMac,
    getPublicKey,
    sign,
    verify,
    verifyMac,
    generateRandom,
    getKeyLastUsage,
    getKeyPolicy,
    getKeyRotationStatus,
    getParametersForImport,
    importKeyMaterial,
    listAliases,
    listGrants,
    listKeyPolicies,
    listKeyRotations,
    listKeys,
    listResourceTags,
    listRetirableGrants,
    putKeyPolicy,
    reEncrypt,
    retireGrant,
    revokeGrant,
    rotateKeyOnDemand,
    scheduleKeyDeletion,
    tagResource,
    untagResource,
    updateAlias,
    updateKeyDescription,
  ].map((op) => [op.name, op as unknown as Operation]),
)

/**
 * Operations that act on no key: AWS governs them by IAM (identity) policies alone, so an IAM user
 * needs an identity policy that allows them; the account root always may.
 */
const KEYLESS: ReadonlyMap<string, Operation> = new Map(
  ['CreateKey', 'ListKeys', 'ListAliases', 'GenerateRandom', 'ListRetirableGrants'].map((name) => {
    const op = OPERATIONS.get(name)!
    const guarded: Operation = {
      name: op.name,
      input: op.input,
      async run(deps, caller, input) {
        await authorizeByIdentity(deps, caller, `kms:${name}`)
        return op.run(deps, caller, input)
      },
    }
    return [name, guarded]
  }),
)

/** An access key pair handed to a user once, at creation. */
export interface AccessKeyPair {
  accessKeyId: string
  secretAccessKey: string
}

/** The KMS service: the operations, credential lookup for the API layer, and data-dir bootstrap. */
export class KmsService {
  readonly deps: ServiceDeps

  constructor(deps: ServiceDeps) {
    this.deps = deps
  }

  /**
   * Writes the audit record of a request whose outcome is known; resolves once it is durable, and
   * rejects (KMSInternalException) when it cannot be written. Call exactly once per request, before
   * its response is sent.
   */
  async record(outcome: RequestOutcome): Promise<void> {
    outcome.recorded = true
    if (!this.deps.audit) return
    const event = requestEvent(this.deps, outcome)
    await this.deps.audit.append(event)
    // A use counts for GetKeyLastUsage once it succeeded and its record (the eventID it names) is durable.
    const tracker = this.deps.keyUsage
    if (tracker && !outcome.error && outcome.api === 'kms' && TRACKED_OPERATIONS.has(event.eventName)) {
      const timestamp = this.deps.clock.now()
      for (const r of event.resources ?? []) {
        const keyId = r.ARN.slice(r.ARN.indexOf(':key/') + 5)
        tracker.note({ keyId, operation: event.eventName, timestamp, eventId: event.eventID, requestId: outcome.requestId })
      }
    }
  }

  /** Writes what is pending (key usage) before the store closes. */
  async close(): Promise<void> {
    await this.deps.keyUsage?.flush()
  }

  /** Refuses work while the audit trail cannot be written: requests fail closed. */
  assertAuditable(): void {
    if (this.deps.audit && !this.deps.audit.health().ok) throw new KmsError('KMSInternalException', '')
  }

  /** What /health reports: not ok while the audit trail cannot be written. */
  health(): { ok: true } | { ok: false; reason: string } {
    return this.deps.audit?.health() ?? { ok: true }
  }

  /** Names of the operations this service answers. */
  static readonly operationNames: readonly string[] = [...OPERATIONS.keys()].sort()

  /** The operation called `name`, or undefined. */
  operation(name: string): Operation | undefined {
    return KEYLESS.get(name) ?? OPERATIONS.get(name)
  }

  /**
   * The SigV4 signing key of an access key for one day, region and service, derived inside the HSM,
   * with the caller it authenticates. Undefined for an unknown access key.
   */
  async signingKey(
    accessKeyId: string,
    date: string,
    region: string,
    service: string,
  ): Promise<{ signingKey: Uint8Array; principal: Caller; session?: { tokenHash: Uint8Array; expiresAt: number } } | undefined> {
    if (accessKeyId.startsWith('ASIA')) return this.#sessionSigningKey(accessKeyId, date, region, service)
    const credential = await this.deps.store.getCredential(accessKeyId)
    if (!credential) return undefined
    let user: Caller['user']
    let tags: Caller['tags']
    if (credential.userName !== undefined) {
      const record = await this.deps.store.getUser(credential.accountId, credential.userName)
      if (!record) return undefined
      user = { userName: record.userName, userId: record.userId }
      tags = tagsOf(record.tags).tags
    }
    const signingKey = await this.deps.hsm.deriveSigningKey(accessKeyId, credential.wrappedSecret, date, region, service)
    return {
      signingKey,
      principal: { accountId: credential.accountId, principalArn: credential.principalArn, accessKeyId, ...(user ? { user } : {}), ...(tags ? { tags } : {}) },
    }
  }

  async #sessionSigningKey(accessKeyId: string, date: string, region: string, service: string) {
    const session = await this.deps.store.getRoleSession(accessKeyId)
    if (!session) return undefined
    // A session outlives neither its role nor a role of the same name created anew.
    const role = await this.deps.store.getRole(session.accountId, session.roleName)
    if (!role || role.roleId !== session.roleId) return undefined
    const signingKey = await this.deps.hsm.deriveSigningKey(accessKeyId, session.wrappedSecret, date, region, service)
    return {
      signingKey,
      principal: {
        accountId: session.accountId,
        principalArn: assumedRoleArn(this.deps.partition, session.accountId, role.roleName, session.sessionName),
        accessKeyId,
        // Session tags win over the role's tags of the same key.
        ...tagsOf(withTags(role.tags ?? [], session.sessionTags ?? [])),
        role: {
          roleName: role.roleName,
          roleId: role.roleId,
          roleArn: role.arn,
          sessionName: session.sessionName,
          sessionCreatedAt: session.createdAt,
          ...(session.sessionPolicy === undefined ? {} : { sessionPolicy: session.sessionPolicy }),
        },
      },
      session: { tokenHash: session.tokenHash, expiresAt: session.expiresAt },
    }
  }

  /**
   * Issues temporary credentials for a session of `role` (STS AssumeRole): the secret is stored
   * wrapped by the HSM and only the SHA-256 of the session token is kept, with the session policy
   * if one was passed. Undefined if the role was deleted meanwhile.
   */
  async issueRoleSession(
    role: IamRoleRecord,
    sessionName: string,
    durationSeconds: number,
    sessionPolicy?: string,
    sessionTags: readonly IamTag[] = [],
  ): Promise<(AccessKeyPair & { sessionToken: string; expiresAt: number }) | undefined> {
    const pair = generateAccessKeyPair()
    const accessKeyId = `ASIA${pair.accessKeyId.slice(4)}`
    const sessionToken = randomBytes(96).toString('base64')
    const createdAt = this.deps.clock.now()
    // AWS reports expirations to the second.
    const expiresAt = Math.floor((createdAt + durationSeconds * 1000) / 1000) * 1000
    const secret = new Uint8Array(Buffer.from(pair.secretAccessKey, 'utf8'))
    try {
      const wrappedSecret = await this.deps.hsm.wrapSecret(accessKeyId, secret)
      const stored = await this.deps.store.putRoleSession({
        accessKeyId,
        accountId: role.accountId,
        roleName: role.roleName,
        roleId: role.roleId,
        sessionName,
        wrappedSecret,
        tokenHash: new Uint8Array(createHash('sha256').update(sessionToken, 'utf8').digest()),
        createdAt,
        expiresAt,
        ...(sessionPolicy === undefined ? {} : { sessionPolicy }),
        ...(sessionTags.length > 0 ? { sessionTags: [...sessionTags] } : {}),
      })
      return stored ? { accessKeyId, secretAccessKey: pair.secretAccessKey, sessionToken, expiresAt } : undefined
    } finally {
      zeroize(secret)
    }
  }

  /**
   * Makes the data dir usable: creates the domain on first start (or loads the stored one) and makes
   * sure the bootstrap account has admin credentials. Returns the credentials when they were created
   * here and the caller has to hand them to the operator.
   */
  async initialize(options: { accountId: string; admin?: AccessKeyPair }): Promise<{ firstStart: boolean; created?: AccessKeyPair }> {
    const { store, hsm } = this.deps
    let sealed = await store.getSealedDomain()
    let firstStart = false
    if (sealed) {
      await hsm.loadDomain(sealed)
    } else {
      const fresh = await hsm.initDomain()
      firstStart = await store.initSealedDomain(fresh)
      // Another node may have initialised the shared store first; its domain wins.
      sealed = firstStart ? fresh : await store.getSealedDomain()
      if (!sealed) throw new Error('domain state vanished during initialisation')
      if (!firstStart) await hsm.loadDomain(sealed)
    }
    if (options.admin) {
      await this.addCredential(options.accountId, options.admin)
      return { firstStart }
    }
    if (!firstStart) return { firstStart }
    const created = generateAccessKeyPair()
    await this.addCredential(options.accountId, created)
    return { firstStart, created }
  }

  /**
   * Stores an access key of the account root (or, with `user`, of that IAM user), its secret wrapped
   * by the HSM. False if it exists.
   */
  async addCredential(accountId: string, pair: AccessKeyPair, user?: { userName: string; arn: string; createdAt?: number }): Promise<boolean> {
    if (await this.deps.store.getCredential(pair.accessKeyId)) return false
    const secret = new Uint8Array(Buffer.from(pair.secretAccessKey, 'utf8'))
    try {
      const wrappedSecret = await this.deps.hsm.wrapSecret(pair.accessKeyId, secret)
      return await this.deps.store.putCredential({
        accessKeyId: pair.accessKeyId,
        accountId,
        principalArn: user ? user.arn : `arn:${this.deps.partition}:iam::${accountId}:root`,
        wrappedSecret,
        createdAt: user?.createdAt ?? this.deps.clock.now(),
        ...(user ? { userName: user.userName } : {}),
      })
    } finally {
      zeroize(secret)
    }
  }
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** A principal's tags as the policy engine reads them (`Caller.tags`); no member when there are none. */
function tagsOf(tags: readonly IamTag[] | undefined): { tags?: Record<string, string> } {
  return tags === undefined || tags.length === 0 ? {} : { tags: Object.fromEntries(tags.map((t) => [t.Key, t.Value])) }
}

/** The ARN of a role session: `arn:aws:sts::<acct>:assumed-role/<role>/<session>`. */
export function assumedRoleArn(partition: string, accountId: string, roleName: string, sessionName: string): string {
  return `arn:${partition}:sts::${accountId}:assumed-role/${roleName}/${sessionName}`
}

/** A new access key id (`AKIA` + 16 base32 characters, as AWS's) and a 40-character secret. */
export function generateAccessKeyPair(): AccessKeyPair {
  const id = [...randomBytes(16)].map((b) => BASE32[b & 31]).join('')
  const secretAccessKey = randomBytes(30).toString('base64')
  return { accessKeyId: `AKIA${id}`, secretAccessKey }
}
