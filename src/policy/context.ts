/**
 * The request as the evaluator sees it: who calls, what action on which key, and the condition keys
 * (`aws:*`, `kms:*`) with their values. The service layer describes a request once with
 * {@link buildRequest}; everything here is pure (the time comes in as an argument).
 */

import type { EncryptionContext } from '../core/types.js'

/** A condition key's value: one string, or several for multi-valued keys such as `aws:TagKeys`. */
export type ContextValue = string | readonly string[]

/**
 * Condition keys and their values. Keys are lower-case: condition key names are case-insensitive
 * in IAM, and so is the whole of `kms:EncryptionContext:<key>` (KMS Developer Guide, "kms:EncryptionContext:").
 */
export type RequestContext = ReadonlyMap<string, ContextValue>

/** How the caller authenticated. */
export type PrincipalType = 'root' | 'user' | 'role' | 'assumed-role'

/** The authenticated caller. */
export interface RequestPrincipal {
  /**
   * The caller's ARN: `arn:aws:iam::<acct>:root`, `arn:aws:iam::<acct>:user/<path/>name`,
   * `arn:aws:iam::<acct>:role/<path/>name`, or `arn:aws:sts::<acct>:assumed-role/<role>/<session>`.
   */
  readonly arn: string
  /** The caller's 12-digit account id. */
  readonly account: string
  readonly type: PrincipalType
  /** For `assumed-role`: the IAM ARN of the role (with its path), which `aws:PrincipalArn` reports. */
  readonly roleArn?: string
  /** `aws:userid`: the unique id (AIDA… for users, `AROA…:session` for role sessions, the account id for root). */
  readonly userId?: string
  /** `aws:username`: the friendly name; present only for IAM users. */
  readonly username?: string
  /** Tags on the user or role (`aws:PrincipalTag/<k>`). */
  readonly tags?: Readonly<Record<string, string>>
}

/** The KMS key the request is about. */
export interface KeyResource {
  /** The key ARN. */
  readonly arn: string
  /** The account that owns the key. */
  readonly account: string
  /** `kms:KeySpec`, e.g. `SYMMETRIC_DEFAULT`. Grant constraints apply only to symmetric keys. */
  readonly keySpec?: string
  /** `kms:KeyUsage`, e.g. `ENCRYPT_DECRYPT`. */
  readonly keyUsage?: string
  /** `kms:KeyOrigin`, e.g. `AWS_KMS`. */
  readonly keyOrigin?: string
  /** The key's tags (`aws:ResourceTag/<k>`). */
  readonly tags?: Readonly<Record<string, string>>
  /** Alias names (`alias/...`) that point at the key (`kms:ResourceAliases`). */
  readonly aliases?: readonly string[]
}

/** The encryption-context constraints of a grant. Keys compare case-insensitively, values exactly. */
export interface GrantConstraints {
  readonly encryptionContextEquals?: EncryptionContext
  readonly encryptionContextSubset?: EncryptionContext
}

/** What a CreateGrant request asks for: feeds `kms:Grant*` keys and the grant-delegation rules. */
export interface NewGrant {
  /** Grant operations without the `kms:` prefix, e.g. `Decrypt`. */
  readonly operations: readonly string[]
  readonly constraints?: GrantConstraints
  readonly granteePrincipal?: string
  readonly retiringPrincipal?: string
  /** `kms:GrantIsForAWSResource`; Trent has no integrated services, so normally false. */
  readonly isForAwsResource?: boolean
}

/** Everything the service layer knows about a request, in plain form. */
export interface RequestFacts {
  readonly principal: RequestPrincipal
  /** The IAM action, e.g. `kms:Decrypt` (case-insensitive). */
  readonly action: string
  readonly resource: KeyResource
  /** The request time (`aws:CurrentTime`, `aws:EpochTime`). */
  readonly time: Date
  /**
   * The encryption context of the request, for operations that take one (for ReEncrypt: the source
   * context for `kms:ReEncryptFrom`, the destination context for `kms:ReEncryptTo`). Leave it out
   * for operations without one. For CreateGrant it defaults to the pairs of the new grant's constraints.
   */
  readonly encryptionContext?: EncryptionContext
  /** `aws:SourceIp`; IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are reported as IPv4. */
  readonly sourceIp?: string
  /** `aws:SecureTransport`. */
  readonly secureTransport?: boolean
  /** `kms:ViaService`. */
  readonly viaService?: string
  /** `kms:EncryptionAlgorithm`. */
  readonly encryptionAlgorithm?: string
  /** `kms:SigningAlgorithm`. */
  readonly signingAlgorithm?: string
  /** `kms:MacAlgorithm`. */
  readonly macAlgorithm?: string
  /** `kms:MessageType` (`RAW` or `DIGEST`). */
  readonly messageType?: string
  /** `kms:RequestAlias`: the alias the caller named the key by, e.g. `alias/app`. */
  readonly requestAlias?: string
  /** `kms:BypassPolicyLockoutSafetyCheck`: only when the request carried the parameter. */
  readonly bypassPolicyLockoutSafetyCheck?: boolean
  /** Tags in the request (`aws:RequestTag/<k>`; their keys make `aws:TagKeys`). */
  readonly requestTags?: Readonly<Record<string, string>>
  /** Tag keys in the request when they come without values (UntagResource); defaults to the request tags' keys. */
  readonly tagKeys?: readonly string[]
  /** The grant a CreateGrant request asks for. */
  readonly newGrant?: NewGrant
  /** Further condition keys, as written (names are lower-cased here). */
  readonly extra?: Readonly<Record<string, ContextValue>>
}

/** A request ready for {@link evaluate}. Build it with {@link buildRequest}. */
export interface AuthzRequest {
  readonly principal: RequestPrincipal
  /** The action as given (for messages). */
  readonly action: string
  readonly resource: KeyResource
  readonly context: RequestContext
  /** The encryption context grant constraints are checked against. */
  readonly encryptionContext?: EncryptionContext
  /** For CreateGrant: what is being delegated (a grant can only delegate what it has). */
  readonly newGrant?: NewGrant
}

/** Operations for which AWS leaves out `kms:CallerAccount` (KMS Developer Guide, kms:CallerAccount). */
const NO_CALLER_ACCOUNT = new Set(['kms:createkey', 'kms:generaterandom', 'kms:listaliases', 'kms:listkeys', 'kms:listretirablegrants', 'kms:retiregrant'])

/** `aws:PrincipalType` values (IAM "Principal key values"). */
const PRINCIPAL_TYPE: Record<PrincipalType, string> = { root: 'Account', user: 'User', role: 'AssumedRole', 'assumed-role': 'AssumedRole' }

/** Builds the condition keys of a request from plain facts. */
export function buildRequestContext(facts: RequestFacts): RequestContext {
  const m = new Map<string, ContextValue>()
  const put = (key: string, value: ContextValue | undefined): void => {
    if (value === undefined) return
    if (typeof value !== 'string' && value.length === 0) return
    m.set(key.toLowerCase(), value)
  }
  const { principal: p, resource: r } = facts
  const action = facts.action.toLowerCase()

  // Principal keys. aws:PrincipalArn names the role, not the session, for role sessions.
  put('aws:PrincipalArn', p.type === 'assumed-role' && p.roleArn !== undefined ? p.roleArn : p.arn)
  put('aws:PrincipalAccount', p.account)
  put('aws:PrincipalType', PRINCIPAL_TYPE[p.type])
  put('aws:userid', p.userId ?? (p.type === 'root' ? p.account : undefined))
  if (p.type === 'user') put('aws:username', p.username ?? p.arn.slice(p.arn.lastIndexOf('/') + 1))
  for (const [k, v] of Object.entries(p.tags ?? {})) put(`aws:PrincipalTag/${k}`, v)
  if (!NO_CALLER_ACCOUNT.has(action)) put('kms:CallerAccount', p.account)

  // Resource keys.
  put('aws:ResourceAccount', r.account)
  put('kms:KeySpec', r.keySpec)
  put('kms:CustomerMasterKeySpec', r.keySpec)
  put('kms:KeyUsage', r.keyUsage)
  put('kms:CustomerMasterKeyUsage', r.keyUsage)
  put('kms:KeyOrigin', r.keyOrigin)
  for (const [k, v] of Object.entries(r.tags ?? {})) put(`aws:ResourceTag/${k}`, v)
  put('kms:ResourceAliases', r.aliases)

  // Request keys.
  put('aws:CurrentTime', facts.time.toISOString().replace(/\.\d{3}Z$/, 'Z'))
  put('aws:EpochTime', String(Math.floor(facts.time.getTime() / 1000)))
  put('aws:SourceIp', facts.sourceIp === undefined ? undefined : unmapIpv4(facts.sourceIp))
  put('aws:SecureTransport', facts.secureTransport === undefined ? undefined : String(facts.secureTransport))
  put('kms:ViaService', facts.viaService)
  put('kms:EncryptionAlgorithm', facts.encryptionAlgorithm)
  put('kms:SigningAlgorithm', facts.signingAlgorithm)
  put('kms:MacAlgorithm', facts.macAlgorithm)
  put('kms:MessageType', facts.messageType)
  put('kms:RequestAlias', facts.requestAlias)
  put('kms:BypassPolicyLockoutSafetyCheck', facts.bypassPolicyLockoutSafetyCheck === undefined ? undefined : String(facts.bypassPolicyLockoutSafetyCheck))
  for (const [k, v] of Object.entries(facts.requestTags ?? {})) put(`aws:RequestTag/${k}`, v)
  put('aws:TagKeys', facts.tagKeys ?? (facts.requestTags === undefined ? undefined : Object.keys(facts.requestTags)))

  const g = facts.newGrant
  if (g !== undefined) {
    put('kms:GrantOperations', g.operations)
    const types = [
      ...(g.constraints?.encryptionContextEquals !== undefined ? ['EncryptionContextEquals'] : []),
      ...(g.constraints?.encryptionContextSubset !== undefined ? ['EncryptionContextSubset'] : []),
    ]
    put('kms:GrantConstraintType', types.length === 1 ? types[0] : types)
    put('kms:GrantIsForAWSResource', String(g.isForAwsResource ?? false))
    put('kms:GranteePrincipal', g.granteePrincipal)
    put('kms:RetiringPrincipal', g.retiringPrincipal)
  }

  const ec = encryptionContextOf(facts)
  if (ec !== undefined) {
    const keys = Object.keys(ec)
    put('kms:EncryptionContextKeys', keys)
    for (const k of keys) {
      // The whole condition key is case-insensitive, so pairs whose keys differ only in case land
      // on the same condition key; it then holds both values (AWS advises against such contexts).
      const name = `kms:encryptioncontext:${k.toLowerCase()}`
      const prior = m.get(name)
      m.set(name, prior === undefined ? ec[k]! : [...(typeof prior === 'string' ? [prior] : prior), ec[k]!])
    }
  }

  for (const [k, v] of Object.entries(facts.extra ?? {})) put(k, v)
  return m
}

/** The encryption context that condition keys and grant constraints see. */
function encryptionContextOf(facts: RequestFacts): EncryptionContext | undefined {
  if (facts.encryptionContext !== undefined) return facts.encryptionContext
  const c = facts.newGrant?.constraints
  if (facts.action.toLowerCase() !== 'kms:creategrant' || c === undefined) return undefined
  if (c.encryptionContextEquals === undefined && c.encryptionContextSubset === undefined) return undefined
  return { ...c.encryptionContextSubset, ...c.encryptionContextEquals }
}

/** `::ffff:192.0.2.1` (how node reports IPv4 peers on a dual-stack socket) → `192.0.2.1`. */
function unmapIpv4(ip: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip)
  return m ? m[1]! : ip
}

/** Describes a request for {@link evaluate}: the principal, action, key and condition keys. */
export function buildRequest(facts: RequestFacts): AuthzRequest {
  return {
    principal: facts.principal,
    action: facts.action,
    resource: facts.resource,
    context: buildRequestContext(facts),
    ...(facts.encryptionContext !== undefined ? { encryptionContext: facts.encryptionContext } : {}),
    ...(facts.newGrant !== undefined ? { newGrant: facts.newGrant } : {}),
  }
}

/** A request context from a plain record of condition keys (names are lower-cased). For tests and tools. */
export function contextFrom(values: Readonly<Record<string, ContextValue>>): RequestContext {
  return new Map(Object.entries(values).map(([k, v]) => [k.toLowerCase(), v]))
}

/**
 * Condition keys whose values are known before a request is made: they describe the principal or
 * the key, not the call. The lockout safety check honours only conditions on these keys.
 */
export function isStableKey(key: string): boolean {
  const k = key.toLowerCase()
  return STABLE_KEYS.has(k) || k.startsWith('aws:principaltag/') || k.startsWith('aws:resourcetag/')
}

const STABLE_KEYS = new Set([
  'aws:principalarn', 'aws:principalaccount', 'aws:principaltype', 'aws:username', 'aws:userid',
  'aws:resourceaccount', 'kms:calleraccount', 'kms:keyspec', 'kms:customermasterkeyspec', 'kms:keyusage',
  'kms:customermasterkeyusage', 'kms:keyorigin', 'kms:resourcealiases', 'kms:multiregion', 'kms:multiregionkeytype',
])
