import type { KeySpec, KeyState, KeyUsage, Origin } from '../core/types.js'

/** A tag as the API carries it. */
export interface Tag {
  TagKey: string
  TagValue: string
}

/** A KMS key's metadata. Not a cryptographic key: its material lives in {@link KeyMaterialRecord}s. */
export interface KeyRecord {
  keyId: string
  arn: string
  accountId: string
  region: string
  /** Milliseconds since the epoch. */
  creationDate: number
  description: string
  keyUsage: KeyUsage
  keySpec: KeySpec
  origin: Origin
  keyState: KeyState
  keyManager: 'CUSTOMER' | 'AWS'
  multiRegion: boolean
  /** Hex id of the HBK that new encryptions use; absent for keys without material. */
  currentKeyMaterialId?: string
  /** Milliseconds since the epoch; present while PendingDeletion. */
  deletionDate?: number
  pendingWindowInDays?: number
  /** Days between automatic rotations; present exactly while automatic rotation is enabled. */
  rotationPeriodInDays?: number
  /** Milliseconds since the epoch; when automatic rotation next falls due (present while it is enabled). */
  nextRotationDate?: number
  /** Milliseconds since the epoch; set while a RotateKeyOnDemand runs. */
  onDemandRotationStartDate?: number
  /** Imported material that RotateKeyOnDemand will make current (state PENDING_ROTATION). */
  pendingKeyMaterialId?: string
  /** Of the current imported material while it is imported (DescribeKey shows them). */
  expirationModel?: ExpirationModel
  /** Milliseconds since the epoch; with expirationModel KEY_MATERIAL_EXPIRES. */
  validTo?: number
  policy: string
  tags: Tag[]
  /** Incremented by every update; {@link Store.updateKey} refuses a stale one. */
  version: number
}

/** One version of a key's material, as stored: only the EKT, never the HBK. */
export interface KeyMaterialRecord {
  keyId: string
  /** 64 lowercase hex characters. */
  keyMaterialId: string
  ekt: Uint8Array
  /** Milliseconds since the epoch. */
  createdAt: number
  /** How this material became current; absent for a key's first material and for imported material not yet rotated to. */
  rotationType?: RotationType
  /** Milliseconds since the epoch; when it became current by rotation. */
  rotationDate?: number
  /**
   * Imported material only: IMPORTED while its EKT is held; PENDING_IMPORT after it expired or was
   * deleted (the EKT is then empty) until the same material is imported again.
   */
  importState?: 'IMPORTED' | 'PENDING_IMPORT'
  expirationModel?: ExpirationModel
  /** Milliseconds since the epoch; with expirationModel KEY_MATERIAL_EXPIRES. */
  validTo?: number
  /** ImportKeyMaterial's KeyMaterialDescription. */
  description?: string
}

/** Why a key's material changed: by the automatic schedule or by RotateKeyOnDemand. */
export type RotationType = 'AUTOMATIC' | 'ON_DEMAND'

/** Whether imported key material expires. */
export type ExpirationModel = 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE'

/** GetParametersForImport's answer as stored: the wrapping key (only HSM-wrapped) behind one import token. */
export interface ImportTokenRecord {
  /** SHA-256 of the import token; the token itself is never stored. */
  tokenHash: Uint8Array
  keyId: string
  wrappingKeySpec: string
  wrappingAlgorithm: string
  /** The RSA private key wrapped by the HSM, bound to the key. */
  wrappedPrivateKey: Uint8Array
  /** Milliseconds since the epoch; the token is refused from then on. */
  validTo: number
}

/** An access key: the secret is stored only wrapped by the HSM. */
export interface CredentialRecord {
  accessKeyId: string
  accountId: string
  principalArn: string
  wrappedSecret: Uint8Array
  createdAt: number
  /** The IAM user the key belongs to; absent for the account root's keys. */
  userName?: string
}

/** An IAM user. Names are unique per account. */
/** A tag on an IAM user or role: what `aws:PrincipalTag/<Key>` reports of it. */
export interface IamTag {
  Key: string
  Value: string
}

export interface IamUserRecord {
  accountId: string
  userName: string
  /** `AIDA` + 16 base32 characters. */
  userId: string
  arn: string
  path: string
  createdAt: number
  /** Absent when the user has none. */
  tags?: IamTag[]
}

/** An inline policy of an IAM user. */
export interface UserPolicyRecord {
  accountId: string
  userName: string
  policyName: string
  document: string
}

/** An IAM role with its trust policy. Names are unique per account. */
export interface IamRoleRecord {
  accountId: string
  roleName: string
  /** `AROA` + 16 base32 characters. */
  roleId: string
  arn: string
  path: string
  /** The trust policy (AssumeRolePolicyDocument) as given. */
  trustPolicy: string
  createdAt: number
  /** Longest session AssumeRole may issue, in seconds (3600–43200). */
  maxSessionDuration: number
  description?: string
  /** Absent when the role has none. */
  tags?: IamTag[]
}

/** An inline policy of an IAM role. */
export interface RolePolicyRecord {
  accountId: string
  roleName: string
  policyName: string
  document: string
}

/** Temporary credentials issued by STS AssumeRole: the secret wrapped by the HSM, only a hash of the token. */
export interface RoleSessionRecord {
  /** `ASIA` + 16 base32 characters. */
  accessKeyId: string
  accountId: string
  roleName: string
  roleId: string
  sessionName: string
  wrappedSecret: Uint8Array
  /** SHA-256 of the session token. */
  tokenHash: Uint8Array
  createdAt: number
  /** Milliseconds since the epoch. */
  expiresAt: number
  /** The inline session policy passed to AssumeRole: the session may do only what it and the role's policies allow. */
  sessionPolicy?: string
  /** Session tags passed to AssumeRole: they override the role's tags of the same key. */
  sessionTags?: IamTag[]
}

/** An alias: a friendly name of one key in one account and region. */
export interface AliasRecord {
  accountId: string
  region: string
  /** `alias/...` */
  aliasName: string
  targetKeyId: string
  /** Milliseconds since the epoch. */
  creationDate: number
  /** Milliseconds since the epoch; changes when the alias is pointed at another key. */
  lastUpdatedDate: number
}

/** A page of aliases ordered by alias name. */
export interface AliasPage {
  aliases: AliasRecord[]
  nextMarker?: string
}

/** A page of keys in creation order. */
export interface KeyPage {
  keys: KeyRecord[]
  /** When set, more keys follow; pass it as `after` to get them. */
  nextMarker?: string
}

/** A grant on one key, as stored. */
export interface GrantRecord {
  /** 64 lowercase hex characters. */
  grantId: string
  keyId: string
  name?: string
  granteePrincipal: string
  retiringPrincipal?: string
  /** Grant operations (`Decrypt`, ...), as the service canonicalised them (sorted, unique). */
  operations: string[]
  /** `{ EncryptionContextEquals?, EncryptionContextSubset? }` as the service canonicalised it (sorted keys). */
  constraints?: GrantConstraintsRecord
  issuingAccount: string
  /** Milliseconds since the epoch. */
  creationDate: number
}

/** The encryption-context constraints of a stored grant. */
export interface GrantConstraintsRecord {
  EncryptionContextEquals?: Record<string, string>
  EncryptionContextSubset?: Record<string, string>
}

/** A page of grants in creation order. */
export interface GrantPage {
  grants: GrantRecord[]
  nextMarker?: string
}

/**
 * Thrown when a write conflicts with the stored state: {@link Store.updateKey} on a stale record,
 * {@link Store.createKey} on a duplicate id, an alias write naming a key that does not exist.
 */
export class StoreConflictError extends Error {
  override readonly name = 'StoreConflictError'
}

/** Names an alias: its account, region and `alias/...` name. */
export interface AliasName {
  accountId: string
  region: string
  aliasName: string
}

/**
 * A change made to a shared store, possibly by another node, that makes cached reads stale. One
 * change sets exactly one field.
 */
export interface StoreChange {
  /** A key whose record or grants changed, or that was deleted with its material, aliases and grants. */
  keyId?: string
  /** An alias that was created, pointed at another key, or deleted. */
  alias?: AliasName
  /** An access key (of a user, the account root or a role session) that was deleted. */
  accessKeyId?: string
  /** An IAM user whose inline policies changed, or who was deleted. */
  user?: { accountId: string; userName: string }
  /** An IAM role whose inline policies or settings changed, or that was deleted. */
  role?: { accountId: string; roleName: string }
  /**
   * Changes may have been missed (the subscription was interrupted and is back): anything read
   * before may be stale.
   */
  everything?: true
}

/** Receives {@link StoreChange}s; called synchronously, must not throw. */
export type StoreChangeListener = (change: StoreChange) => void

/** An encryption-context pair marked as a canary (`trent admin canary add-context`): every node alerts on it. */
export interface CanaryContextRecord {
  key: string
  value: string
  /** Milliseconds since the epoch. */
  createdAt: number
}

/** The last successful cryptographic use of a KMS key (GetKeyLastUsage). */
export interface KeyUsageRecord {
  keyId: string
  /** The operation, e.g. Encrypt, Decrypt, GenerateDataKey, ReEncrypt. */
  operation: string
  /** Milliseconds since the epoch. */
  timestamp: number
  /** The audit event's eventID. */
  eventId: string
  requestId: string
}

/**
 * Persistence for Trent. Every method is async so SQLite and PostgreSQL backends share it; every
 * backend must pass test/contract/store-contract.ts.
 */
export interface Store {
  /** Creates or upgrades the schema. Safe to call on every start. */
  migrate(): Promise<void>
  /** The sealed domain state, if the data dir was initialised. */
  getSealedDomain(): Promise<Uint8Array | undefined>
  /** Stores the sealed domain state only if none exists; returns false (and stores nothing) otherwise. */
  initSealedDomain(sealed: Uint8Array): Promise<boolean>
  /** Creates a key together with its first material (if any) atomically; a duplicate key id throws StoreConflictError. */
  createKey(key: KeyRecord, material?: KeyMaterialRecord): Promise<void>
  getKey(keyId: string): Promise<KeyRecord | undefined>
  /** Writes `key` if the stored version equals `key.version - 1`, else throws StoreConflictError. */
  updateKey(key: KeyRecord): Promise<void>
  /**
   * Keys of one account and region, oldest first. `after` is a marker from a previous page; a marker
   * this store did not issue throws `KmsError('InvalidMarkerException')`.
   */
  listKeys(accountId: string, region: string, limit: number, after?: string): Promise<KeyPage>
  getKeyMaterial(keyId: string, keyMaterialId: string): Promise<KeyMaterialRecord | undefined>
  /** Resolves an alias name (`alias/...`) in an account and region to a key id. */
  getAliasTarget(accountId: string, region: string, aliasName: string): Promise<string | undefined>
  /**
   * Destroys a key that is due for deletion: its row, every EKT of its material (crypto-shredding:
   * the stored bytes are overwritten, not only unlinked) and its aliases, in one transaction. Does
   * nothing and returns false unless the stored key still has `key.version` and is PendingDeletion,
   * so a deletion cancelled meanwhile, or already done by another node, is not repeated.
   */
  deleteKey(key: KeyRecord): Promise<boolean>
  /**
   * Writes `key` like {@link Store.updateKey} and, in the same transaction, inserts or replaces
   * `materials` (all of that key). On a version conflict nothing is written (StoreConflictError).
   */
  putKeyMaterials(key: KeyRecord, materials: readonly KeyMaterialRecord[]): Promise<void>
  /** Every material of a key, oldest first (by createdAt, then id). */
  listKeyMaterials(keyId: string): Promise<KeyMaterialRecord[]>
  /** Enabled keys of every account and region whose nextRotationDate is at or before `now`, by that date then creation order. */
  keysDueForRotation(now: number, limit: number): Promise<KeyRecord[]>
  /** Imported materials (importState IMPORTED) whose validTo is at or before `now`, by validTo. */
  materialsDueForExpiry(now: number, limit: number): Promise<KeyMaterialRecord[]>
  /** Stores an import token; StoreConflictError if its key does not exist. */
  putImportToken(token: ImportTokenRecord): Promise<void>
  getImportToken(tokenHash: Uint8Array): Promise<ImportTokenRecord | undefined>
  /** Deletes an import token; false if it did not exist (so of two users of one token only one gets true). */
  deleteImportToken(tokenHash: Uint8Array): Promise<boolean>
  /** Deletes the import tokens whose validTo is at or before `now` (with their wrapped private keys); returns how many. */
  deleteExpiredImportTokens(now: number): Promise<number>
  /** Keys of every account and region in PendingDeletion whose deletionDate is at or before `now`, by deletionDate then creation order. */
  keysDueForDeletion(now: number, limit: number): Promise<KeyRecord[]>
  /**
   * Takes or renews a named lease for `holder` until `now + ttlMs`. True when `holder` holds it
   * afterwards: it was free, expired, or already held by `holder`. Several nodes sharing a store
   * use this so a periodic job runs on one of them at a time. A lease whose expiry equals `now` is
   * expired; expiry is judged by the caller's clock.
   */
  acquireLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean>
  /** Gives a lease up if `holder` holds it. */
  releaseLease(name: string, holder: string): Promise<void>

  /**
   * Creates an alias; false (and nothing stored) if the name exists in that account and region.
   * Throws StoreConflictError if the target key does not exist. The service checks everything else
   * about the target (account, region, state, the per-key limit).
   */
  createAlias(alias: AliasRecord): Promise<boolean>
  getAlias(accountId: string, region: string, aliasName: string): Promise<AliasRecord | undefined>
  /** Points an existing alias at another key; false if the alias does not exist; StoreConflictError if the key does not. */
  updateAlias(accountId: string, region: string, aliasName: string, targetKeyId: string, now: number): Promise<boolean>
  /** Deletes an alias; false if it did not exist. */
  deleteAlias(accountId: string, region: string, aliasName: string): Promise<boolean>
  /**
   * Aliases of an account and region ordered by the UTF-8 bytes of their names, optionally only those of one key. `after` is
   * a marker from a previous page; a marker this store did not issue throws InvalidMarkerException.
   */
  listAliases(accountId: string, region: string, options: { keyId?: string; limit: number; after?: string }): Promise<AliasPage>

  /**
   * Creates a grant and records `token` (only its SHA-256) as a token of it, in one transaction.
   * When the key already has a grant with the same name and identical grantee, retiring principal,
   * operations and constraints (`grant.name` set), no grant is created: the token is recorded for
   * the existing grant, which is returned. Returns the grant the token belongs to. Throws
   * StoreConflictError if the key does not exist.
   */
  createGrant(grant: GrantRecord, token: string): Promise<GrantRecord>
  getGrant(grantId: string): Promise<GrantRecord | undefined>
  /** Grants of a key in creation order, optionally one id or one grantee; `after` is a marker of the same listing. */
  listGrants(keyId: string, options: { grantId?: string; granteePrincipal?: string; limit: number; after?: string }): Promise<GrantPage>
  /** Grants of the keys of one account and region whose retiring principal is `retiringPrincipal`, in creation order. */
  listRetirableGrants(accountId: string, region: string, retiringPrincipal: string, options: { limit: number; after?: string }): Promise<GrantPage>
  /** Deletes a grant with its tokens; false if it did not exist. */
  deleteGrant(grantId: string): Promise<boolean>
  /** The grant a token was issued for, if it still exists. */
  grantByToken(token: string): Promise<GrantRecord | undefined>
  countGrants(keyId: string): Promise<number>

  /** Stores a credential; false if the access key id exists already, or its `userName` names no user of the account. */
  putCredential(credential: CredentialRecord): Promise<boolean>
  getCredential(accessKeyId: string): Promise<CredentialRecord | undefined>
  /** Deletes an access key; false if it did not exist. */
  deleteCredential(accessKeyId: string): Promise<boolean>
  /** Access keys of one IAM user, oldest first. */
  listUserCredentials(accountId: string, userName: string): Promise<CredentialRecord[]>

  /** Creates an IAM user; false (nothing stored) if the name or user id exists in the account. */
  createUser(user: IamUserRecord): Promise<boolean>
  getUser(accountId: string, userName: string): Promise<IamUserRecord | undefined>
  /** Users of an account ordered by the UTF-8 bytes of their names. */
  listUsers(accountId: string): Promise<IamUserRecord[]>
  /** Replaces a user's tags (reported as a change of the user); false if the user does not exist. */
  updateUserTags(accountId: string, userName: string, tags: readonly IamTag[]): Promise<boolean>
  /** Deletes a user that has no access keys and no inline policies left, in one transaction. */
  deleteUser(accountId: string, userName: string): Promise<'deleted' | 'missing' | 'conflict'>
  /** Creates or replaces an inline policy; false if the user does not exist. */
  putUserPolicy(policy: UserPolicyRecord): Promise<boolean>
  getUserPolicy(accountId: string, userName: string, policyName: string): Promise<UserPolicyRecord | undefined>
  /** Inline policies of a user ordered by name. */
  listUserPolicies(accountId: string, userName: string): Promise<UserPolicyRecord[]>
  deleteUserPolicy(accountId: string, userName: string, policyName: string): Promise<boolean>

  /** Creates an IAM role; false (nothing stored) if the name or role id exists in the account. */
  createRole(role: IamRoleRecord): Promise<boolean>
  getRole(accountId: string, roleName: string): Promise<IamRoleRecord | undefined>
  /** Roles of an account ordered by the UTF-8 bytes of their names. */
  listRoles(accountId: string): Promise<IamRoleRecord[]>
  /**
   * Writes a role's trust policy, description, MaxSessionDuration and tags (the rest of the record is
   * immutable); false if no role of that name and role id exists.
   */
  updateRole(role: IamRoleRecord): Promise<boolean>
  /** Deletes a role that has no inline policies left (its sessions go with it), in one transaction. */
  deleteRole(accountId: string, roleName: string): Promise<'deleted' | 'missing' | 'conflict'>
  /** Creates or replaces an inline policy of a role; false if the role does not exist. */
  putRolePolicy(policy: RolePolicyRecord): Promise<boolean>
  getRolePolicy(accountId: string, roleName: string, policyName: string): Promise<RolePolicyRecord | undefined>
  /** Inline policies of a role ordered by name. */
  listRolePolicies(accountId: string, roleName: string): Promise<RolePolicyRecord[]>
  deleteRolePolicy(accountId: string, roleName: string, policyName: string): Promise<boolean>
  /** Stores a role session; false if the access key id exists or the role does not. */
  putRoleSession(session: RoleSessionRecord): Promise<boolean>
  getRoleSession(accessKeyId: string): Promise<RoleSessionRecord | undefined>
  /** Access key ids of a role's sessions (expired ones included). */
  listRoleSessionIds(accountId: string, roleName: string): Promise<string[]>
  /**
   * Records keys' latest cryptographic uses in one write; for each key keeps the newer of the stored
   * and the given use (by timestamp), so writes from several nodes may arrive in any order.
   */
  recordKeyUsage(usages: readonly KeyUsageRecord[]): Promise<void>
  /** A key's last recorded cryptographic use, if any. */
  getKeyLastUsage(keyId: string): Promise<KeyUsageRecord | undefined>
  /** When this store began tracking key usage (milliseconds since the epoch). */
  keyUsageTrackingStart(): Promise<number>
  /** The encryption-context pairs marked as canaries, ordered by key, then value. */
  listCanaryContexts(): Promise<CanaryContextRecord[]>
  /** Marks an encryption-context pair as a canary; false if it is marked already. */
  putCanaryContext(record: CanaryContextRecord): Promise<boolean>
  /** Unmarks an encryption-context pair; false if it was not marked. */
  deleteCanaryContext(key: string, value: string): Promise<boolean>
  /**
   * Offered by stores that several nodes share (PostgreSQL; absent for SQLite, which has one node).
   * Calls `listener` after a key update or deletion, a grant creation or deletion (as a change of
   * its key), an alias creation, move or deletion, an access key deletion (a role's sessions are
   * reported one by one when the role is deleted), or a change of an IAM user's or role's inline
   * policies, settings or existence, is
   * committed through any store on the same database, this one included, usually within
   * milliseconds. Delivery is best effort: changes made while the subscription is interrupted (e.g.
   * while PostgreSQL restarts) are not delivered one by one, but followed by `{ everything: true }`
   * once it is back. Returns a function that ends the subscription.
   */
  subscribe?(listener: StoreChangeListener): () => void
  close(): Promise<void>
}
