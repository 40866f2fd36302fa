import { randomUUID } from 'node:crypto'
import { cloudTrailTime, EVENT_VERSION, type AuditEvent, type AuditResource, type UserIdentity } from '../audit/event.js'
import type { KeyRecord } from '../store/store.js'
import type { Caller, ServiceDeps } from './deps.js'

/** What the API layer knows about one request once its outcome is known; becomes one audit record. */
export interface RequestOutcome {
  requestId: string
  /** Which API: KMS (JSON 1.1), or IAM / STS over the query protocol. */
  api: 'kms' | 'iam' | 'sts'
  /** The operation asked for, as named in X-Amz-Target or Action; undefined when there was none. */
  eventName?: string
  /** Set once the request authenticated; its trace lists the keys it resolved. */
  caller?: Caller
  /** The Authorization header as received: a request that did not authenticate is logged with the access key id it claims. */
  authorization?: string
  sourceIp?: string
  userAgent?: string
  /** The request as parsed: the JSON body, or the query form's fields. */
  params?: unknown
  result?: object
  error?: { code: string; message: string }
  /** Set when the record was handed to the trail, so a request is never recorded twice. */
  recorded?: boolean
}

/**
 * requestParameters: per operation, the input members CloudTrail logs. An allowlist, so a field
 * added to an operation later is left out until it is added here — never Plaintext,
 * CiphertextBlob, data keys, Message, Signature, Mac, GrantTokens, import material or secrets.
 */
const LOGGED_PARAMETERS: Readonly<Record<string, readonly string[]>> = {
  CancelKeyDeletion: ['KeyId'],
  CreateAlias: ['AliasName', 'TargetKeyId'],
  CreateGrant: ['KeyId', 'GranteePrincipal', 'RetiringPrincipal', 'Operations', 'Constraints', 'Name', 'DryRun'],
  CreateKey: ['Description', 'KeyUsage', 'KeySpec', 'CustomerMasterKeySpec', 'Origin', 'BypassPolicyLockoutSafetyCheck', 'MultiRegion', 'Tags', 'Policy', 'CustomKeyStoreId', 'XksKeyId'],
  Decrypt: ['KeyId', 'EncryptionContext', 'EncryptionAlgorithm', 'DryRun'],
  DeleteAlias: ['AliasName'],
  DescribeKey: ['KeyId'],
  DisableKey: ['KeyId'],
  DisableKeyRotation: ['KeyId'],
  EnableKey: ['KeyId'],
  EnableKeyRotation: ['KeyId', 'RotationPeriodInDays'],
  Encrypt: ['KeyId', 'EncryptionContext', 'EncryptionAlgorithm', 'DryRun'],
  GenerateDataKey: ['KeyId', 'EncryptionContext', 'KeySpec', 'NumberOfBytes', 'DryRun'],
  GenerateDataKeyPair: ['KeyId', 'EncryptionContext', 'KeyPairSpec', 'DryRun'],
  GenerateDataKeyPairWithoutPlaintext: ['KeyId', 'EncryptionContext', 'KeyPairSpec', 'DryRun'],
  GenerateDataKeyWithoutPlaintext: ['KeyId', 'EncryptionContext', 'KeySpec', 'NumberOfBytes', 'DryRun'],
  GenerateMac: ['KeyId', 'MacAlgorithm', 'DryRun'],
  GenerateRandom: ['NumberOfBytes', 'CustomKeyStoreId'],
  GetKeyLastUsage: ['KeyId'],
  GetKeyPolicy: ['KeyId', 'PolicyName'],
  GetKeyRotationStatus: ['KeyId'],
  GetPublicKey: ['KeyId'],
  ListAliases: ['KeyId', 'Limit'],
  ListGrants: ['KeyId', 'GrantId', 'GranteePrincipal', 'Limit'],
  ListKeyPolicies: ['KeyId', 'Limit'],
  ListKeys: ['Limit'],
  ListResourceTags: ['KeyId', 'Limit'],
  ListRetirableGrants: ['RetiringPrincipal', 'Limit'],
  PutKeyPolicy: ['KeyId', 'PolicyName', 'Policy', 'BypassPolicyLockoutSafetyCheck'],
  ReEncrypt: ['SourceKeyId', 'SourceEncryptionContext', 'SourceEncryptionAlgorithm', 'DestinationKeyId', 'DestinationEncryptionContext', 'DestinationEncryptionAlgorithm', 'DryRun'],
  RetireGrant: ['KeyId', 'GrantId', 'DryRun'],
  RevokeGrant: ['KeyId', 'GrantId', 'DryRun'],
  RotateKeyOnDemand: ['KeyId'],
  ScheduleKeyDeletion: ['KeyId', 'PendingWindowInDays'],
  Sign: ['KeyId', 'MessageType', 'SigningAlgorithm', 'DryRun'],
  TagResource: ['KeyId', 'Tags'],
  UntagResource: ['KeyId', 'TagKeys'],
  UpdateAlias: ['AliasName', 'TargetKeyId'],
  UpdateKeyDescription: ['KeyId', 'Description'],
  Verify: ['KeyId', 'MessageType', 'SigningAlgorithm', 'DryRun'],
  VerifyMac: ['KeyId', 'MacAlgorithm', 'DryRun'],
  // IAM and STS (query protocol): names, ARNs and policy documents, never secrets or tokens.
  AssumeRole: ['RoleArn', 'RoleSessionName', 'DurationSeconds'],
  CreateAccessKey: ['UserName'],
  CreateRole: ['RoleName', 'Path', 'AssumeRolePolicyDocument', 'Description'],
  CreateUser: ['UserName', 'Path'],
  DeleteAccessKey: ['UserName', 'AccessKeyId'],
  DeleteRole: ['RoleName'],
  DeleteRolePolicy: ['RoleName', 'PolicyName'],
  DeleteUser: ['UserName'],
  DeleteUserPolicy: ['UserName', 'PolicyName'],
  GetRole: ['RoleName'],
  GetRolePolicy: ['RoleName', 'PolicyName'],
  GetUser: ['UserName'],
  GetUserPolicy: ['UserName', 'PolicyName'],
  ListAccessKeys: ['UserName'],
  ListUsers: ['PathPrefix'],
  PutRolePolicy: ['RoleName', 'PolicyName', 'PolicyDocument'],
  PutUserPolicy: ['UserName', 'PolicyName', 'PolicyDocument'],
  // TrentAdmin calls.
  ExplainPolicy: ['PrincipalArn', 'Action', 'KeyId', 'EncryptionContext'],
  LookupEvents: ['LookupAttributes', 'StartTime', 'EndTime', 'MaxResults'],
}

/** AWS logs the algorithm of these even when the caller left it to the default. */
const DEFAULT_ALGORITHM: Readonly<Record<string, string>> = { Encrypt: 'EncryptionAlgorithm', Decrypt: 'EncryptionAlgorithm' }

/** Operations whose records say readOnly: true (reads and cryptographic operations). */
const READ_ONLY = /^(Describe|List|Get|Lookup|Explain|Encrypt$|Decrypt$|ReEncrypt$|GenerateDataKey|GenerateRandom$|GenerateMac$|Sign$|Verify|DeriveSharedSecret$)/

const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1)

/** The CloudTrail event of a request that reached an outcome. */
export function requestEvent(deps: Pick<ServiceDeps, 'region' | 'clock'>, o: RequestOutcome): AuditEvent {
  const keys = uniqueKeys(o.caller?.trace?.keys ?? [])
  const eventName = (o.eventName ?? '').slice(0, 128)
  const event: AuditEvent = {
    eventVersion: EVENT_VERSION,
    userIdentity: o.caller ? identityOf(o.caller) : unknownIdentity(o.authorization),
    eventTime: cloudTrailTime(deps.clock.now()),
    eventSource: `${o.api}.amazonaws.com`,
    eventName,
    awsRegion: deps.region,
    sourceIPAddress: o.sourceIp ?? 'unknown',
    ...(o.userAgent !== undefined ? { userAgent: o.userAgent.slice(0, 1024) } : {}),
    ...(o.error ? { errorCode: o.error.code, ...(o.error.message ? { errorMessage: o.error.message.slice(0, 1024) } : {}) } : {}),
    requestParameters: requestParameters(eventName, o.params),
    responseElements: o.error || !o.result ? null : responseElements(eventName, o.result),
    requestID: o.requestId,
    eventID: randomUUID(),
    readOnly: READ_ONLY.test(eventName),
    ...(keys.length ? { resources: keys.map(resourceOf) } : {}),
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: keys[0]?.accountId ?? o.caller?.accountId ?? '',
    eventCategory: 'Management',
  }
  return event
}

/** The event of something Trent did by itself (a scheduled key deletion, rotation, material expiry). */
export interface SystemEvent {
  eventName: string
  key: Pick<KeyRecord, 'arn' | 'accountId' | 'keyId'>
  serviceEventDetails?: Record<string, unknown>
}

/** The CloudTrail AwsServiceEvent of an event Trent starts itself. */
export function systemEvent(deps: Pick<ServiceDeps, 'region' | 'clock'>, e: SystemEvent): AuditEvent {
  return {
    eventVersion: EVENT_VERSION,
    userIdentity: { type: 'AWSService', accountId: e.key.accountId, invokedBy: 'AWS Internal' },
    eventTime: cloudTrailTime(deps.clock.now()),
    eventSource: 'kms.amazonaws.com',
    eventName: e.eventName,
    awsRegion: deps.region,
    sourceIPAddress: 'AWS Internal',
    requestParameters: null,
    responseElements: null,
    eventID: randomUUID(),
    readOnly: false,
    resources: [resourceOf(e.key)],
    eventType: 'AwsServiceEvent',
    managementEvent: true,
    recipientAccountId: e.key.accountId,
    eventCategory: 'Management',
    serviceEventDetails: e.serviceEventDetails ?? { keyId: e.key.keyId },
  }
}

/**
 * Records an event Trent started itself (the deletion scheduler, rotation, key-material expiry):
 * resolves once it is durable.
 */
export function recordSystemEvent(deps: Pick<ServiceDeps, 'region' | 'clock' | 'audit'>, e: SystemEvent): Promise<void> {
  return deps.audit ? deps.audit.append(systemEvent(deps, e)) : Promise.resolve()
}

/** Parsed only for requests that did not authenticate, off the path of every other request. */
function unknownIdentity(authorization: string | undefined): UserIdentity {
  const claimed = authorization === undefined ? undefined : /Credential=([A-Z0-9]{16,128})\//.exec(authorization)?.[1]
  return { type: 'Unknown', ...(claimed ? { accessKeyId: claimed } : {}) }
}

function identityOf(c: Caller): UserIdentity {
  if (c.role) {
    return {
      type: 'AssumedRole',
      principalId: `${c.role.roleId}:${c.role.sessionName}`,
      arn: c.principalArn,
      accountId: c.accountId,
      accessKeyId: c.accessKeyId,
      sessionContext: {
        sessionIssuer: { type: 'Role', principalId: c.role.roleId, arn: c.role.roleArn, accountId: c.accountId, userName: c.role.roleName },
        attributes: { ...(c.role.sessionCreatedAt !== undefined ? { creationDate: cloudTrailTime(c.role.sessionCreatedAt) } : {}), mfaAuthenticated: 'false' },
      },
    }
  }
  if (c.user) return { type: 'IAMUser', principalId: c.user.userId, arn: c.principalArn, accountId: c.accountId, accessKeyId: c.accessKeyId, userName: c.user.userName }
  return { type: 'Root', principalId: c.accountId, arn: c.principalArn, accountId: c.accountId, accessKeyId: c.accessKeyId }
}

function resourceOf(key: Pick<KeyRecord, 'arn' | 'accountId'>): AuditResource {
  return { accountId: key.accountId, type: 'AWS::KMS::Key', ARN: key.arn }
}

function uniqueKeys(keys: readonly KeyRecord[]): KeyRecord[] {
  const seen = new Set<string>()
  return keys.filter((k) => !seen.has(k.arn) && seen.add(k.arn))
}

/** Takes only allowlisted members of the request as parsed from JSON or a form. */
function requestParameters(eventName: string, params: unknown): Record<string, unknown> | null {
  const allowed = LOGGED_PARAMETERS[eventName]
  if (!allowed || typeof params !== 'object' || params === null) return null
  const input = params as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const name of allowed) {
    const value = Object.hasOwn(input, name) ? input[name] : undefined
    if (value === undefined || value === null) continue
    // Shared, not copied: the parsed request is never changed after it was read.
    out[lowerFirst(name)] = value
  }
  const algorithm = DEFAULT_ALGORITHM[eventName]
  if (algorithm && out[lowerFirst(algorithm)] === undefined) out[lowerFirst(algorithm)] = 'SYMMETRIC_DEFAULT'
  return Object.keys(out).length ? out : null
}

/** responseElements: only for the changes AWS logs them for; null for reads and cryptographic operations. */
function responseElements(eventName: string, result: object): Record<string, unknown> | null {
  const r = result as Record<string, unknown>
  switch (eventName) {
    case 'CreateKey':
      return { keyMetadata: camelKeys(r['KeyMetadata']) }
    case 'CreateGrant':
      return { grantId: r['GrantId'] }
    case 'ScheduleKeyDeletion':
      return camelKeys({ KeyId: r['KeyId'], KeyState: r['KeyState'], DeletionDate: r['DeletionDate'], PendingWindowInDays: r['PendingWindowInDays'] }) as Record<string, unknown>
    default:
      return null
  }
}

function camelKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelKeys)
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return value
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [lowerFirst(k), camelKeys(v)]))
}
