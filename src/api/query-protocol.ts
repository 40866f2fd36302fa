import type { IncomingMessage, ServerResponse } from 'node:http'
import { isKmsError } from '../core/errors.js'
import type { RequestOutcome } from '../service/audit-record.js'
import type { Caller } from '../service/deps.js'
import { IAM_ACTIONS, IamError, Params, type IamContext, type XmlObject, type XmlValue } from '../service/iam/index.js'
import type { KmsService } from '../service/kms-service.js'
import type { SigV4Verifier } from './sigv4.js'

/**
 * The AWS query protocol for IAM and STS on the KMS endpoint: `POST /` with a form-encoded body
 * (`Action=CreateUser&Version=2010-05-08&...`), SigV4 with signing name `iam` or `sts`, XML answers.
 */

export const FORM_TYPE = 'application/x-www-form-urlencoded'

const NAMESPACE = {
  iam: 'https://iam.amazonaws.com/doc/2010-05-08/',
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
} as const
const VERSION = { iam: '2010-05-08', sts: '2011-06-15' } as const

/** True for a request in the query protocol (a form body and no X-Amz-Target). */
export function isQueryRequest(req: IncomingMessage): boolean {
  const type = req.headers['content-type']
  return typeof type === 'string' && type.toLowerCase().startsWith(FORM_TYPE) && req.headers['x-amz-target'] === undefined
}

export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!)
}

function renderValue(value: XmlValue): string {
  if (typeof value === 'string') return xmlEscape(value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (Array.isArray(value)) return (value as readonly (XmlObject | string)[]).map((m) => `<member>${typeof m === 'string' ? xmlEscape(m) : renderXml(m)}</member>`).join('')
  return renderXml(value as XmlObject)
}

/** Elements in insertion order; undefined members are left out. */
export function renderXml(obj: XmlObject): string {
  let out = ''
  for (const [name, value] of Object.entries(obj)) if (value !== undefined) out += `<${name}>${renderValue(value)}</${name}>`
  return out
}

function successXml(service: 'iam' | 'sts', action: string, result: XmlObject | undefined, requestId: string): string {
  const body = result === undefined ? '' : `<${action}Result>${renderXml(result)}</${action}Result>`
  return `<${action}Response xmlns="${NAMESPACE[service]}">${body}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
}

function errorXml(service: 'iam' | 'sts', e: IamError, requestId: string): string {
  return `<ErrorResponse xmlns="${NAMESPACE[service]}"><Error><Type>${e.type}</Type><Code>${xmlEscape(e.code)}</Code><Message>${xmlEscape(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
}

/** A SigV4 failure as IAM and STS name it. */
function authError(code: string, message: string): IamError {
  switch (code) {
    case 'UnrecognizedClientException':
      return new IamError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403)
    case 'InvalidSignatureException':
      return new IamError('SignatureDoesNotMatch', message, 403)
    case 'IncompleteSignatureException':
      return new IamError('IncompleteSignature', message, 400)
    case 'MissingAuthenticationTokenException':
      return new IamError('MissingAuthenticationToken', message || 'Request is missing Authentication Token', 403)
    default:
      return new IamError(code.replace(/Exception$/, ''), message, 400)
  }
}

function send(res: ServerResponse, status: number, requestId: string, xml: string): void {
  res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(xml), 'x-amzn-requestid': requestId })
  res.end(xml)
}

/** What the query front end needs from the server. */
export interface QueryEndpoint {
  service: KmsService
  verifiers: { iam: SigV4Verifier<Caller>; sts: SigV4Verifier<Caller> }
  forgetAccessKey(accessKeyId: string): void
  log(message: string): void
}

/**
 * Answers one query-protocol request (always: errors become XML error responses), after writing
 * its audit record; if that cannot be written the answer is a ServiceFailure.
 */
export async function handleQuery(endpoint: QueryEndpoint, req: IncomingMessage, res: ServerResponse, body: Uint8Array, outcome: RequestOutcome): Promise<void> {
  const form = new URLSearchParams(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'))
  const name = form.get('Action') ?? ''
  const action = IAM_ACTIONS.get(name)
  const service = action?.service ?? 'iam'
  const requestId = outcome.requestId
  outcome.api = service
  outcome.eventName = name
  outcome.params = Object.fromEntries(form)
  const respond = async (status: number, xml: string, error?: IamError): Promise<void> => {
    if (error) outcome.error = { code: error.code, message: error.message }
    let answer = { status, xml }
    try {
      await endpoint.service.record(outcome)
    } catch {
      answer = { status: 500, xml: errorXml(service, SERVICE_FAILURE(), requestId) }
    }
    send(res, answer.status, requestId, answer.xml)
  }
  try {
    let caller: Caller
    try {
      caller = (await endpoint.verifiers[service].verify({ method: 'POST', path: req.url ?? '/', headers: req.headersDistinct, body })).principal
    } catch (e) {
      if (isKmsError(e) && e.code !== 'KMSInternalException') throw authError(e.code, e.message)
      throw e
    }
    const version = form.get('Version')
    if (!action || (version !== null && version !== VERSION[service])) {
      throw new IamError('InvalidAction', `Could not find operation ${name} for version ${version ?? 'NO_VERSION_SPECIFIED'}`)
    }
    outcome.caller = caller
    endpoint.service.assertAuditable()
    if (req.socket.remoteAddress !== undefined) caller = { ...caller, sourceIp: req.socket.remoteAddress }
    const ctx: IamContext = { deps: endpoint.service.deps, service: endpoint.service, caller, forgetAccessKey: endpoint.forgetAccessKey }
    const result = await action.run(ctx, new Params(form))
    await respond(200, successXml(service, name, result, requestId))
  } catch (e) {
    if (outcome.recorded) throw e
    if (e instanceof IamError) {
      await respond(e.status, errorXml(service, e, requestId), e)
      return
    }
    if (isKmsError(e) && e.code !== 'KMSInternalException') {
      const error = authError(e.code, e.message)
      await respond(e.status, errorXml(service, error, requestId), error)
      return
    }
    if (endpoint.service.health().ok) endpoint.log(`request ${requestId} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
    const failure = SERVICE_FAILURE()
    await respond(500, errorXml(service, failure, requestId), failure)
  }
}

const SERVICE_FAILURE = (): IamError => new IamError('ServiceFailure', 'Request processing has failed due to some unknown error, exception or failure.', 500, 'Receiver')
