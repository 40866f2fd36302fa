import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Clock } from '../core/clock.js'
import { KmsError } from '../core/errors.js'
import { parseInput } from '../core/shape.js'
import type { RequestOutcome } from '../service/audit-record.js'
import type { Caller } from '../service/deps.js'
import { explainForCaller } from '../service/explain.js'
import { lookupEvents } from '../service/lookup-events.js'
import type { KmsService } from '../service/kms-service.js'
import { METRICS_CONTENT_TYPE } from '../service/observe/metrics.js'
import type { RequestObserver } from '../service/observe/observer.js'
import { handleQuery, isQueryRequest } from './query-protocol.js'
import { SigV4Verifier } from './sigv4.js'

/** Options of the HTTP front end. */
export interface ApiOptions {
  region: string
  /** Requests with a larger body are refused unread. Default 1 MiB. */
  maxBodyBytes?: number
  clock?: Clock
  /** Where our own faults are reported (never key material). Default: stderr. */
  log?: (message: string) => void
  /** Told about every request once its response is sent (metrics, canaries). */
  observer?: RequestObserver
  /** Serve the observer's metrics at `GET /metrics` on this server (unauthenticated). */
  metricsEndpoint?: boolean
}

const TARGET_PREFIX = 'TrentService.'
/** Trent's own administrator calls on the same endpoint (account root only). */
const ADMIN: Readonly<Record<string, (deps: KmsService['deps'], caller: Caller, input: unknown) => Promise<object>>> = {
  'TrentAdmin.ExplainPolicy': explainForCaller,
  'TrentAdmin.LookupEvents': lookupEvents,
}
const JSON_TYPE = 'application/x-amz-json-1.1'

/** Reads a request body up to `limit` bytes; larger bodies are refused without buffering them. */
function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > limit) {
      reject(new KmsError('RequestEntityTooLargeException', `Request body exceeds ${limit} bytes`))
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        req.removeAllListeners('data')
        req.pause()
        reject(new KmsError('RequestEntityTooLargeException', `Request body exceeds ${limit} bytes`))
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function toJson(body: object): string {
  return JSON.stringify(body, (_key, value: unknown) =>
    value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') : value,
  )
}

function parseJson(body: Uint8Array): unknown {
  if (body.length === 0) return {}
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'))
  } catch {
    throw new KmsError('SerializationException', 'Could not parse the request body as JSON')
  }
}

/** Zeroises every byte array of a response once it has been written. */
function scrub(value: unknown): void {
  if (value instanceof Uint8Array) value.fill(0)
  else if (typeof value === 'object' && value !== null) for (const v of Object.values(value)) scrub(v)
}

function send(res: ServerResponse, status: number, requestId: string, payload: string): void {
  res.writeHead(status, {
    'content-type': JSON_TYPE,
    'content-length': Buffer.byteLength(payload),
    'x-amzn-requestid': requestId,
  })
  res.end(payload)
}

function sendError(res: ServerResponse, requestId: string, e: KmsError): void {
  // AWS's ValidationException carries its text as `Message`; the modelled KMS exceptions as `message`.
  const field = e.code === 'ValidationException' ? 'Message' : 'message'
  send(res, e.status, requestId, JSON.stringify({ __type: e.code, [field]: e.message }))
}

/** What is known of a request before it is read: who sent it from where. */
function requestOutcome(req: IncomingMessage, requestId: string): RequestOutcome {
  const outcome: RequestOutcome = { requestId, api: 'kms' }
  const address = req.socket.remoteAddress
  if (address !== undefined) outcome.sourceIp = address.startsWith('::ffff:') ? address.slice(7) : address
  const agent = req.headers['user-agent']
  if (agent !== undefined) outcome.userAgent = agent
  const authorization = req.headers.authorization
  if (authorization !== undefined) outcome.authorization = authorization
  return outcome
}

/**
 * The AWS KMS JSON 1.1 front end on node:http: `POST /` with `X-Amz-Target: TrentService.<Op>`,
 * SigV4 on every request, and `GET /health`.
 */
export function createApiServer(service: KmsService, options: ApiOptions): Server {
  const limit = options.maxBodyBytes ?? 1024 * 1024
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`))
  const verifierFor = (signingService: 'kms' | 'iam' | 'sts'): SigV4Verifier<Caller> =>
    new SigV4Verifier<Caller>({
      region: options.region,
      service: signingService,
      getSigningKey: (accessKeyId, date, region, s) => service.signingKey(accessKeyId, date, region, s),
      ...(options.clock ? { clock: options.clock } : {}),
    })
  const verifier = verifierFor('kms')
  // IAM and STS (query protocol) sign with their own service names on the same endpoint.
  const verifiers = { iam: verifierFor('iam'), sts: verifierFor('sts') }
  const all = [verifier, verifiers.iam, verifiers.sts]
  const query = {
    service,
    verifiers,
    log,
    forgetAccessKey(accessKeyId: string): void {
      for (const v of all) v.forget(accessKeyId)
    },
  }
  // An access key deleted through another node sharing the store (or a session of a role deleted
  // there) stops working here when the report arrives, not only when its signing key expires.
  // A user or role changed there (its tags among the rest, which cached principals carry): its
  // access keys and sessions are looked up and forgotten too.
  const forgetAll = (ids: Promise<string[]>): void => {
    ids.then(
      (list) => list.forEach((id) => query.forgetAccessKey(id)),
      (e: unknown) => log(`forgetting the access keys of a changed IAM principal failed: ${e instanceof Error ? e.message : String(e)}`),
    )
  }
  const store = service.deps.store
  const unsubscribe = store.subscribe?.((change) => {
    if (change.accessKeyId !== undefined) query.forgetAccessKey(change.accessKeyId)
    if (change.user !== undefined) forgetAll(store.listUserCredentials(change.user.accountId, change.user.userName).then((cs) => cs.map((c) => c.accessKeyId)))
    if (change.role !== undefined) forgetAll(store.listRoleSessionIds(change.role.accountId, change.role.roleName))
    if (change.everything) for (const v of all) v.clear()
  })

  const observer = options.observer
  const metrics = options.metricsEndpoint ? observer?.metrics : undefined

  async function handle(req: IncomingMessage, res: ServerResponse, outcome: RequestOutcome): Promise<void> {
    if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') {
      throw new KmsError('UnknownOperationException', '')
    }
    const requestId = outcome.requestId
    const body = await readBody(req, limit)
    if (isQueryRequest(req)) {
      await handleQuery(query, req, res, body, outcome)
      return
    }
    const target = req.headers['x-amz-target']
    if (typeof target === 'string') outcome.eventName = target.slice(target.indexOf('.') + 1)
    const { principal } = await verifier.verify({ method: 'POST', path: req.url ?? '/', headers: req.headersDistinct, body })
    // Not `{ ...principal, trace }`: V8 (Node 20) builds an object literal that starts with a
    // spread and goes on with properties on a slow path (~0.5 µs).
    const caller: Caller = Object.assign({}, principal, { trace: { keys: [] } })
    outcome.caller = caller
    service.assertAuditable()
    outcome.params = parseJson(body)

    const admin = typeof target === 'string' && Object.hasOwn(ADMIN, target) ? ADMIN[target] : undefined
    if (admin) {
      const answer = JSON.stringify(await admin(service.deps, principal, outcome.params))
      await service.record(outcome)
      send(res, 200, requestId, answer)
      return
    }
    const name = typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined
    const operation = name === undefined ? undefined : service.operation(name)
    if (!operation) throw new KmsError('UnknownOperationException', '')

    const input = parseInput(operation.input, outcome.params)
    if (req.socket.remoteAddress !== undefined) caller.sourceIp = req.socket.remoteAddress
    const result = await operation.run(service.deps, caller, input)
    try {
      outcome.result = result
      // The response goes out only once its audit record is durable.
      await service.record(outcome)
      send(res, 200, requestId, toJson(result))
    } finally {
      scrub(result)
      scrub(input)
    }
  }

  const server = createServer((req, res) => {
    const requestId = randomUUID()
    if (req.method === 'GET' && (req.url === '/health' || req.url === '/health/')) {
      const health = service.health()
      send(res, health.ok ? 200 : 503, requestId, JSON.stringify(health.ok ? { status: 'ok' } : { status: 'unavailable', reason: health.reason }))
      return
    }
    if (metrics && req.method === 'GET' && req.url === '/metrics') {
      const text = metrics.render()
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) })
      res.end(text)
      return
    }
    const outcome = requestOutcome(req, requestId)
    const started = observer ? performance.now() : 0
    const ended = (errorCode: string | undefined): void =>
      observer?.requestEnded({
        requestId,
        method: req.method,
        target: req.headers['x-amz-target'] as string | undefined,
        caller: outcome.caller,
        input: isRecord(outcome.params) ? outcome.params : undefined,
        errorCode,
        status: res.statusCode,
        seconds: (performance.now() - started) / 1000,
      })
    /** Answers a request that failed; returns the error code sent. */
    const fail = async (e: unknown): Promise<string | undefined> => {
      if (res.headersSent) return e instanceof KmsError ? e.code : undefined
      let error = e instanceof KmsError && e.code !== 'KMSInternalException' ? e : undefined
      // Our own fault: the details go to the operator's log, never to the caller (while the audit
      // trail is down, the refusals are not: the trail logs its failure once).
      if (!error && service.health().ok) log(`request ${requestId} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
      if (!outcome.recorded) {
        outcome.error = { code: error?.code ?? 'KMSInternalException', message: error?.message ?? '' }
        await service.record(outcome).catch(() => (error = undefined))
      }
      sendError(res, requestId, error ?? new KmsError('KMSInternalException', ''))
      if (error?.code === 'RequestEntityTooLargeException') req.socket.destroySoon()
      return error?.code ?? 'KMSInternalException'
    }
    handle(req, res, outcome)
      .then(() => ended(undefined), async (e: unknown) => ended(await fail(e)))
      .catch((e: unknown) => log(`request ${requestId}: answering failed: ${String(e)}`))
  })
  if (unsubscribe) server.on('close', unsubscribe)
  return server
}
