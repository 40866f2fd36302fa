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
  readonly tags?: Readonly<Record<string, string>> | undefined
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

type FactOf = (facts: RequestFacts) => ContextValue | undefined

const keySpec: FactOf = (f) => f.resource.keySpec
const keyUsage: FactOf = (f) => f.resource.keyUsage
const optionalString = (v: boolean | undefined): string | undefined => (v === undefined ? undefined : String(v))

/** The condition keys with fixed names (lower-case), and how each is read from the facts. */
const FIXED_KEYS: ReadonlyMap<string, FactOf> = new Map<string, FactOf>([
  // Principal keys. aws:PrincipalArn names the role, not the session, for role sessions.
  ['aws:principalarn', ({ principal: p }) => (p.type === 'assumed-role' && p.roleArn !== undefined ? p.roleArn : p.arn)],
  ['aws:principalaccount', (f) => f.principal.account],
  ['aws:principaltype', (f) => PRINCIPAL_TYPE[f.principal.type]],
  ['aws:userid', ({ principal: p }) => p.userId ?? (p.type === 'root' ? p.account : undefined)],
  ['aws:username', ({ principal: p }) => (p.type === 'user' ? (p.username ?? p.arn.slice(p.arn.lastIndexOf('/') + 1)) : undefined)],
  ['kms:calleraccount', (f) => (NO_CALLER_ACCOUNT.has(f.action.toLowerCase()) ? undefined : f.principal.account)],
  // Resource keys.
  ['aws:resourceaccount', (f) => f.resource.account],
  ['kms:keyspec', keySpec],
  ['kms:customermasterkeyspec', keySpec],
  ['kms:keyusage', keyUsage],
  ['kms:customermasterkeyusage', keyUsage],
  ['kms:keyorigin', (f) => f.resource.keyOrigin],
  ['kms:resourcealiases', (f) => f.resource.aliases],
  // Request keys.
  ['aws:currenttime', (f) => f.time.toISOString().replace(/\.\d{3}Z$/, 'Z')],
  ['aws:epochtime', (f) => String(Math.floor(f.time.getTime() / 1000))],
  ['aws:sourceip', (f) => (f.sourceIp === undefined ? undefined : unmapIpv4(f.sourceIp))],
  ['aws:securetransport', (f) => optionalString(f.secureTransport)],
  ['kms:viaservice', (f) => f.viaService],
  ['kms:encryptionalgorithm', (f) => f.encryptionAlgorithm],
  ['kms:signingalgorithm', (f) => f.signingAlgorithm],
  ['kms:macalgorithm', (f) => f.macAlgorithm],
  ['kms:messagetype', (f) => f.messageType],
  ['kms:requestalias', (f) => f.requestAlias],
  ['kms:bypasspolicylockoutsafetycheck', (f) => optionalString(f.bypassPolicyLockoutSafetyCheck)],
  ['aws:tagkeys', (f) => f.tagKeys ?? (f.requestTags === undefined ? undefined : Object.keys(f.requestTags))],
  // What a CreateGrant request asks for.
  ['kms:grantoperations', (f) => f.newGrant?.operations],
  ['kms:grantconstrainttype', ({ newGrant: g }) => {
    if (g === undefined) return undefined
    const types = [
      ...(g.constraints?.encryptionContextEquals !== undefined ? ['EncryptionContextEquals'] : []),
      ...(g.constraints?.encryptionContextSubset !== undefined ? ['EncryptionContextSubset'] : []),
    ]
    return types.length === 1 ? types[0] : types
  }],
  ['kms:grantisforawsresource', (f) => (f.newGrant === undefined ? undefined : String(f.newGrant.isForAwsResource ?? false))],
  ['kms:granteeprincipal', (f) => f.newGrant?.granteePrincipal],
  ['kms:retiringprincipal', (f) => f.newGrant?.retiringPrincipal],
  ['kms:encryptioncontextkeys', (f) => {
    const ec = encryptionContextOf(f)
    return ec === undefined ? undefined : Object.keys(ec)
  }],
])

/** Condition keys named after a tag key (lower-case prefix), and where their tags are. */
const TAG_FAMILIES: ReadonlyArray<readonly [string, (f: RequestFacts) => Readonly<Record<string, string>> | undefined]> = [
  ['aws:principaltag/', (f) => f.principal.tags],
  ['aws:resourcetag/', (f) => f.resource.tags],
  ['aws:requesttag/', (f) => f.requestTags],
]

const CONTEXT_PREFIX = 'kms:encryptioncontext:'

/** A key without a value, like an empty multi-valued one, is absent. */
function present(value: ContextValue | undefined): ContextValue | undefined {
  return value === undefined || (typeof value !== 'string' && value.length === 0) ? undefined : value
}

/** The value of the entry whose name lower-cases to `lowerName` (the last one, as in a map built in order). */
function lastFolded(record: Readonly<Record<string, ContextValue>> | undefined, lowerName: string): ContextValue | undefined {
  let found: ContextValue | undefined
  for (const k in record) {
    if (Object.hasOwn(record, k) && k.toLowerCase() === lowerName) found = present(record[k]) ?? found
  }
  return found
}

/**
 * `kms:EncryptionContext:<key>`: the whole condition key is case-insensitive, so pairs whose keys
 * differ only in case land on the same condition key; it then holds both values (AWS advises
 * against such contexts).
 */
function contextPairValue(ec: EncryptionContext | undefined, lowerKey: string): ContextValue | undefined {
  let found: string | string[] | undefined
  for (const k in ec) {
    if (!Object.hasOwn(ec, k) || k.toLowerCase() !== lowerKey) continue
    const v = ec[k]!
    found = found === undefined ? v : [...(typeof found === 'string' ? [found] : found), v]
  }
  return found
}

/** One condition key (lower-case name) of a request; undefined when the request has no such key. */
function conditionKey(facts: RequestFacts, key: string): ContextValue | undefined {
  const extra = lastFolded(facts.extra, key)
  if (extra !== undefined) return extra
  const fixed = FIXED_KEYS.get(key)
  if (fixed !== undefined) return present(fixed(facts))
  for (const [prefix, tags] of TAG_FAMILIES) {
    if (key.startsWith(prefix)) return lastFolded(tags(facts), key.slice(prefix.length))
  }
  if (key.startsWith(CONTEXT_PREFIX)) return contextPairValue(encryptionContextOf(facts), key.slice(CONTEXT_PREFIX.length))
  return undefined
}

/** Every condition key of a request, for the few callers that list them. */
function allConditionKeys(facts: RequestFacts): Map<string, ContextValue> {
  const names = new Set(FIXED_KEYS.keys())
  for (const [prefix, tags] of TAG_FAMILIES) for (const k of Object.keys(tags(facts) ?? {})) names.add(prefix + k.toLowerCase())
  for (const k of Object.keys(encryptionContextOf(facts) ?? {})) names.add(CONTEXT_PREFIX + k.toLowerCase())
  for (const k of Object.keys(facts.extra ?? {})) names.add(k.toLowerCase())
  const m = new Map<string, ContextValue>()
  for (const name of names) {
    const v = conditionKey(facts, name)
    if (v !== undefined) m.set(name, v)
  }
  return m
}

/**
 * The condition keys of one request, each worked out on its first lookup: a policy reads a few of
 * the ~30 keys, and building them all was most of the cost of a decision.
 */
class LazyRequestContext implements ReadonlyMap<string, ContextValue> {
  readonly #facts: RequestFacts
  readonly #looked = new Map<string, ContextValue | undefined>()
  #all: Map<string, ContextValue> | undefined

  constructor(facts: RequestFacts) {
    this.#facts = facts
  }

  get(key: string): ContextValue | undefined {
    let v = this.#looked.get(key)
    if (v === undefined && !this.#looked.has(key)) {
      v = conditionKey(this.#facts, key)
      this.#looked.set(key, v)
    }
    return v
  }

  has(key: string): boolean {
    return this.get(key) !== undefined
  }

  get size(): number {
    return this.#everything().size
  }

  forEach(callback: (value: ContextValue, key: string, map: ReadonlyMap<string, ContextValue>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.#everything()) callback.call(thisArg, v, k, this)
  }

  entries(): ReturnType<Map<string, ContextValue>['entries']> {
    return this.#everything().entries()
  }

  keys(): ReturnType<Map<string, ContextValue>['keys']> {
    return this.#everything().keys()
  }

  values(): ReturnType<Map<string, ContextValue>['values']> {
    return this.#everything().values()
  }

  [Symbol.iterator](): ReturnType<Map<string, ContextValue>['entries']> {
    return this.#everything().entries()
  }

  #everything(): Map<string, ContextValue> {
    return (this.#all ??= allConditionKeys(this.#facts))
  }
}

/** The condition keys of a request, from plain facts. Each key's value is worked out when first read. */
export function buildRequestContext(facts: RequestFacts): RequestContext {
  return new LazyRequestContext(facts)
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
