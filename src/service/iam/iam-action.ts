import { randomBytes } from 'node:crypto'
import { isKmsError } from '../../core/errors.js'
import type { IamRoleRecord, IamTag, IamUserRecord } from '../../store/store.js'
import { parsePolicy, type ParsedPolicy } from '../../policy/index.js'
import { authorizeByIdentity } from '../authorize.js'
import type { Caller, ServiceDeps } from '../deps.js'
import type { KmsService } from '../kms-service.js'

/** An IAM / STS query-protocol error: `<Error><Type>Sender</Type><Code>..</Code><Message>..</Message></Error>`. */
export class IamError extends Error {
  readonly code: string
  readonly status: number
  readonly type: 'Sender' | 'Receiver'
  constructor(code: string, message: string, status = 400, type: 'Sender' | 'Receiver' = 'Sender') {
    super(message)
    this.name = 'IamError'
    this.code = code
    this.status = status
    this.type = type
  }
}

/** A value of an XML result: text, a nested element list, or a list rendered as `<member>`s. */
export type XmlValue = string | number | boolean | XmlObject | readonly XmlObject[] | readonly string[]
export interface XmlObject {
  readonly [element: string]: XmlValue | undefined
}

/** What one IAM or STS action runs with. */
export interface IamContext {
  readonly deps: ServiceDeps
  readonly service: KmsService
  readonly caller: Caller
  /** Drops an access key from every signing-key cache once it is deleted. */
  forgetAccessKey(accessKeyId: string): void
}

/** The form parameters of one request. */
export class Params {
  readonly #form: URLSearchParams
  constructor(form: URLSearchParams) {
    this.#form = form
  }

  optional(name: string): string | undefined {
    return this.#form.get(name) ?? undefined
  }

  required(name: string): string {
    const v = this.#form.get(name)
    if (v === null) throw new IamError('ValidationError', `1 validation error detected: Value null at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`)
    return v
  }

  /** A user or policy name: AWS's `[\w+=,.@-]+` pattern and length bounds. */
  name(name: string, max: number, value = this.required(name)): string {
    return this.text(name, 1, max, /^[\w+=,.@-]+$/, '[\\w+=,.@-]+', value)
  }

  /** An IAM path (`/`, or `/division/team/`) in AWS's pattern; `/` when absent. */
  path(name: string): string {
    const value = this.optional(name)
    if (value === undefined) return '/'
    return this.text(name, 1, 512, /^(\/|\/[\x21-\x7E]+\/)$/, '(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)', value)
  }

  /** A `PathPrefix` of the List* actions in AWS's pattern; `/` (everything) when absent. */
  pathPrefix(): string {
    const value = this.optional('PathPrefix')
    if (value === undefined) return '/'
    return this.text('PathPrefix', 1, 512, /^\/[\x21-\x7E]*$/, '\\u002F[\\u0021-\\u007E]*', value)
  }

  /** A string parameter within AWS's length bounds and, when given, its pattern (`shown` as AWS writes it). */
  text(name: string, min: number, max: number, pattern?: RegExp, shown?: string, value = this.required(name)): string {
    if (value.length < min || value.length > max) {
      throw invalid(value, name, `Member must have length ${value.length < min ? `greater than or equal to ${min}` : `less than or equal to ${max}`}`)
    }
    if (pattern && !pattern.test(value)) throw invalid(value, name, `Member must satisfy regular expression pattern: ${shown}`)
    return value
  }

  /** An optional integer parameter within AWS's bounds. */
  integer(name: string, min: number, max: number): number | undefined {
    const raw = this.optional(name)
    if (raw === undefined) return undefined
    const n = Number(raw)
    if (!Number.isInteger(n) || n < min || n > max) {
      throw invalid(raw, name, `Member must have value ${n > max ? `less than or equal to ${max}` : `greater than or equal to ${min}`}`)
    }
    return n
  }
}

/** AWS's one-violation ValidationError. */
function invalid(value: string, name: string, constraint: string): IamError {
  return new IamError('ValidationError', `1 validation error detected: Value '${value}' at '${lowerFirst(name)}' failed to satisfy constraint: ${constraint}`)
}

/** AWS's default and largest `MaxItems` of the IAM List* actions. */
const DEFAULT_MAX_ITEMS = 100
const MAX_MAX_ITEMS = 1000

/**
 * One page of a listing ordered by the UTF-8 bytes of `nameOf`: `Marker` (from a previous page's
 * answer) and `MaxItems`, as the IAM List* actions take them; `IsTruncated` and the next `Marker`.
 */
export function listPage<T>(params: Params, items: readonly T[], nameOf: (item: T) => string): { items: T[]; IsTruncated: boolean; Marker?: string } {
  const limit = params.integer('MaxItems', 1, MAX_MAX_ITEMS) ?? DEFAULT_MAX_ITEMS
  const marker = params.optional('Marker')
  const after = marker === undefined ? undefined : Buffer.from(marker, 'base64url')
  const rest = after === undefined ? items : items.filter((item) => Buffer.compare(Buffer.from(nameOf(item), 'utf8'), after) > 0)
  const page = rest.slice(0, limit)
  if (rest.length <= limit) return { items: page, IsTruncated: false }
  return { items: page, IsTruncated: true, Marker: Buffer.from(nameOf(page.at(-1)!), 'utf8').toString('base64url') }
}

/** One IAM or STS action of the query protocol. */
export interface IamAction {
  readonly name: string
  readonly service: 'iam' | 'sts'
  /** The `<Action>Result` content; undefined for actions that answer with metadata only. */
  run(ctx: IamContext, params: Params): Promise<XmlObject | undefined>
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1)
}

/** AWS's IAM timestamp form: ISO 8601 without milliseconds. */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** The ARN of a user of the caller's account at `path` (which starts and ends with `/`). */
export function userArn(ctx: IamContext, userName: string, path = '/'): string {
  return `arn:${ctx.deps.partition}:iam::${ctx.caller.accountId}:user${path}${userName}`
}

/**
 * The ARN an IAM action on user `userName` is authorized against: the user's own (with its path)
 * when it exists, else the one it would have at `/`.
 */
export async function existingUserArn(ctx: IamContext, userName: string): Promise<string> {
  return (await ctx.deps.store.getUser(ctx.caller.accountId, userName))?.arn ?? userArn(ctx, userName)
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** A new unique id of a user: `AIDA` + 16 base32 characters. */
export function newUserId(): string {
  return `AIDA${[...randomBytes(16)].map((b) => BASE32[b & 31]).join('')}`
}

/** The `Tags` member of GetUser / GetRole / Create* answers; absent when there are none (List* omit tags, as AWS's do). */
export function tagsXml(tags: readonly IamTag[] | undefined): XmlObject[] | undefined {
  return tags === undefined || tags.length === 0 ? undefined : tags.map((t) => ({ Key: t.Key, Value: t.Value }))
}

export function userXml(u: IamUserRecord): XmlObject {
  return { Path: u.path, UserName: u.userName, UserId: u.userId, Arn: u.arn, CreateDate: isoDate(u.createdAt) }
}

export function noSuchUser(userName: string): IamError {
  return new IamError('NoSuchEntity', `The user with name ${userName} cannot be found.`, 404)
}

/** The user named by `UserName`, or the calling user when the parameter is absent (AWS's default). */
export function targetUserName(ctx: IamContext, params: Params): string {
  const given = params.optional('UserName')
  if (given !== undefined) return params.name('UserName', 64, given)
  if (ctx.caller.user) return ctx.caller.user.userName
  throw new IamError('ValidationError', 'UserName is required: Trent keeps no IAM entity for the account root.')
}

/**
 * The account root may perform every IAM action in its account; an IAM user only what its identity
 * policies allow on `resourceArn`. Throws AccessDenied (HTTP 403) with AWS's message otherwise.
 */
export async function authorizeIam(ctx: IamContext, action: string, resourceArn: string): Promise<void> {
  try {
    await authorizeByIdentity(ctx.deps, ctx.caller, `iam:${action}`, resourceArn)
  } catch (e) {
    if (isKmsError(e) && e.code === 'AccessDeniedException') throw new IamError('AccessDenied', e.message, 403)
    throw e
  }
}

/** The ARN of a role of the caller's account at `path` (which starts and ends with `/`). */
export function roleArn(ctx: IamContext, roleName: string, path = '/'): string {
  return `arn:${ctx.deps.partition}:iam::${ctx.caller.accountId}:role${path}${roleName}`
}

/** The ARN an IAM action on role `roleName` is authorized against (see {@link existingUserArn}). */
export async function existingRoleArn(ctx: IamContext, roleName: string): Promise<string> {
  return (await ctx.deps.store.getRole(ctx.caller.accountId, roleName))?.arn ?? roleArn(ctx, roleName)
}

/** A new unique id of a role: `AROA` + 16 base32 characters. */
export function newRoleId(): string {
  return `AROA${[...randomBytes(16)].map((b) => BASE32[b & 31]).join('')}`
}

/** A role's MaxSessionDuration in seconds: AWS's default and bounds. */
export const ROLE_SESSION_SECONDS = { default: 3600, min: 3600, max: 43200 } as const

/** The `Description` and `MaxSessionDuration` of CreateRole and UpdateRole, checked as AWS checks them; absent ones are left out. */
export function roleSettings(params: Params): { description?: string; maxSessionDuration?: number } {
  const description = params.optional('Description')
  if (description !== undefined) {
    params.text('Description', 0, 1000, /^[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*$/, '[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*')
  }
  const maxSessionDuration = params.integer('MaxSessionDuration', ROLE_SESSION_SECONDS.min, ROLE_SESSION_SECONDS.max)
  return { ...(description === undefined ? {} : { description }), ...(maxSessionDuration === undefined ? {} : { maxSessionDuration }) }
}

export function roleXml(r: IamRoleRecord): XmlObject {
  return {
    Path: r.path,
    RoleName: r.roleName,
    RoleId: r.roleId,
    Arn: r.arn,
    CreateDate: isoDate(r.createdAt),
    // AWS returns the document URL-encoded (RFC 3986); the CLI and SDKs decode it.
    AssumeRolePolicyDocument: encodeURIComponent(r.trustPolicy),
    Description: r.description,
    MaxSessionDuration: r.maxSessionDuration,
  }
}

/** AWS's limit on the size of a trust policy (counted without whitespace). */
const MAX_TRUST_POLICY_CHARS = 2048

/** Checks a trust policy for CreateRole / UpdateAssumeRolePolicy: AWS's size limit and grammar. */
export function checkTrustPolicy(document: string): void {
  if (document.replace(/\s/g, '').length > MAX_TRUST_POLICY_CHARS) {
    throw new IamError('LimitExceeded', `Cannot exceed quota for ACLSizePerRole: ${MAX_TRUST_POLICY_CHARS}`, 409)
  }
  parseTrustPolicy(document)
}

export function noSuchRole(roleName: string): IamError {
  return new IamError('NoSuchEntity', `The role with name ${roleName} cannot be found.`, 404)
}

/**
 * A trust policy parsed so that the evaluator can treat it as the resource policy of the role:
 * trust policy statements name no Resource (the role is the resource), so `"Resource": "*"` is
 * supplied. Throws IamError MalformedPolicyDocument for a document that is not a valid policy.
 */
export function parseTrustPolicy(document: string): ParsedPolicy {
  try {
    const json = JSON.parse(document) as unknown
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('Syntax errors in policy.')
    const doc = json as Record<string, unknown>
    const list = Array.isArray(doc['Statement']) ? doc['Statement'] : [doc['Statement']]
    for (const st of list) {
      if (typeof st !== 'object' || st === null) continue
      const statement = st as Record<string, unknown>
      if (statement['Resource'] !== undefined || statement['NotResource'] !== undefined) {
        throw new Error('Has prohibited field Resource.')
      }
      if (statement['Principal'] === undefined && statement['NotPrincipal'] === undefined) throw new Error('Missing required field Principal.')
    }
    const withResource = { ...doc, Statement: list.map((st) => (typeof st === 'object' && st !== null ? { ...st, Resource: '*' } : st)) }
    return parsePolicy(JSON.stringify(withResource), { kind: 'key' })
  } catch (e) {
    throw new IamError('MalformedPolicyDocument', e instanceof Error ? e.message : 'Syntax errors in policy.')
  }
}

/**
 * Checks an inline identity policy for PutUserPolicy / PutRolePolicy: AWS's size limit for its
 * owner (counted without whitespace, as AWS counts) and the policy grammar.
 */
export function checkInlinePolicy(document: string, policyName: string, maxChars: number, owner: string): void {
  if (document.replace(/\s/g, '').length > maxChars) {
    throw new IamError('LimitExceeded', `Maximum policy size of ${maxChars} bytes exceeded for ${owner}`, 409)
  }
  try {
    parsePolicy(document, { kind: 'identity', name: policyName })
  } catch (e) {
    throw new IamError('MalformedPolicyDocument', e instanceof Error ? e.message : 'Syntax errors in policy.')
  }
}
