import { randomBytes } from 'node:crypto'
import { isKmsError } from '../../core/errors.js'
import type { IamUserRecord } from '../../store/store.js'
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
export type XmlValue = string | number | boolean | XmlObject | readonly XmlObject[]
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
    if (value.length < 1 || value.length > max) {
      throw new IamError('ValidationError', `1 validation error detected: Value '${value}' at '${lowerFirst(name)}' failed to satisfy constraint: Member must have length less than or equal to ${max}`)
    }
    if (!/^[\w+=,.@-]+$/.test(value)) {
      throw new IamError('ValidationError', `1 validation error detected: Value '${value}' at '${lowerFirst(name)}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+`)
    }
    return value
  }
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

export function userArn(ctx: IamContext, userName: string): string {
  return `arn:${ctx.deps.partition}:iam::${ctx.caller.accountId}:user/${userName}`
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** A new unique id of a user: `AIDA` + 16 base32 characters. */
export function newUserId(): string {
  return `AIDA${[...randomBytes(16)].map((b) => BASE32[b & 31]).join('')}`
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
