import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Clock } from '../core/clock.js'
import { KmsError } from '../core/errors.js'
import { parseInput } from '../core/shape.js'
import type { Caller } from '../service/deps.js'
import { explainForCaller } from '../service/explain.js'
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

/** What one request revealed while it was handled, for the observer. */
interface Exchange {
  readonly requestId: string
  caller?: Caller
  input?: Record<string, unknown>
}

const TARGET_PREFIX = 'TrentService.'
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

/**
 * The AWS KMS JSON 1.1 front end on node:http: `POST /` with `X-Amz-Target: TrentService.<Op>`,
 * SigV4 on every request, and `GET /health`.
 */
export function createApiServer(service: KmsService, options: ApiOptions): Server {
  const limit = options.maxBodyBytes ?? 1024 * 1024
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`))
  const verifier = new SigV4Verifier<Caller>({
    region: options.region,
    service: 'kms',
    getSigningKey: (accessKeyId, date, region, svc) => service.signingKey(accessKeyId, date, region, svc),
    ...(options.clock ? { clock: options.clock } : {}),
  })
  // IAM and STS (query protocol) sign with their own service names on the same endpoint.
  const queryVerifier = (svc: 'iam' | 'sts'): SigV4Verifier<Caller> =>
    new SigV4Verifier<Caller>({
      region: options.region,
      service: svc,
      getSigningKey: (accessKeyId, date, region, s) => service.signingKey(accessKeyId, date, region, s),
      ...(options.clock ? { clock: options.clock } : {}),
    })
  const verifiers = { iam: queryVerifier('iam'), sts: queryVerifier('sts') }
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
  const unsubscribe = service.deps.store.subscribe?.((change) => {
    if (change.accessKeyId !== undefined) query.forgetAccessKey(change.accessKeyId)
    if (change.everything) for (const v of all) v.clear()
  })

  const observer = options.observer
  const metrics = options.metricsEndpoint ? observer?.metrics : undefined

  async function handle(req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<void> {
    const requestId = exchange.requestId
    if (req.method === 'GET' && (req.url === '/health' || req.url === '/health/')) {
      send(res, 200, requestId, '{"status":"ok"}')
      return
    }
    if (metrics && req.method === 'GET' && req.url === '/metrics') {
      const text = metrics.render()
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) })
      res.end(text)
      return
    }
    if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') {
      throw new KmsError('UnknownOperationException', '')
    }
    const body = await readBody(req, limit)
    if (isQueryRequest(req)) {
      await handleQuery(query, req, res, body, requestId)
      return
    }
    const { principal } = await verifier.verify({ method: 'POST', path: req.url ?? '/', headers: req.headersDistinct, body })

    const target = req.headers['x-amz-target']
    if (target === 'TrentAdmin.ExplainPolicy') {
      send(res, 200, requestId, JSON.stringify(await explainForCaller(service.deps, principal, parseJson(body))))
      return
    }
    const name = typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined
    const operation = name === undefined ? undefined : service.operation(name)
    if (!operation) throw new KmsError('UnknownOperationException', '')

    const input = parseInput(operation.input, parseJson(body))
    const caller: Caller = { ...principal, trace: { keys: [] } }
    if (req.socket.remoteAddress !== undefined) caller.sourceIp = req.socket.remoteAddress
    exchange.caller = caller
    exchange.input = input
    const result = await operation.run(service.deps, caller, input)
    try {
      send(res, 200, requestId, toJson(result))
    } finally {
      scrub(result)
      scrub(input)
    }
  }

  /** Answers a request that failed; returns the error code sent. */
  function fail(req: IncomingMessage, res: ServerResponse, requestId: string, e: unknown): string | undefined {
    if (e instanceof KmsError && e.code !== 'KMSInternalException') {
      if (res.headersSent) return e.code
      sendError(res, requestId, e)
      if (e.code === 'RequestEntityTooLargeException') req.socket.destroySoon()
      return e.code
    }
    if (res.headersSent) return undefined
    // Our own fault: the details go to the operator's log, never to the caller.
    log(`request ${requestId} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
    sendError(res, requestId, new KmsError('KMSInternalException', ''))
    return 'KMSInternalException'
  }

  const server = createServer((req, res) => {
    const exchange: Exchange = { requestId: randomUUID() }
    const started = observer ? performance.now() : 0
    const ended = (errorCode: string | undefined): void =>
      observer?.requestEnded({
        requestId: exchange.requestId,
        method: req.method,
        target: req.headers['x-amz-target'] as string | undefined,
        caller: exchange.caller,
        input: exchange.input,
        errorCode,
        status: res.statusCode,
        seconds: (performance.now() - started) / 1000,
      })
    handle(req, res, exchange).then(
      () => ended(undefined),
      (e: unknown) => ended(fail(req, res, exchange.requestId, e)),
    )
  })
  if (unsubscribe) server.on('close', unsubscribe)
  return server
}
