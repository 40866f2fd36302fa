/**
 * AWS Signature Version 4 verification of incoming requests, on node:crypto only.
 *
 * Header authentication only (`Authorization: AWS4-HMAC-SHA256 …`). Presigned query-string
 * authentication is refused: no KMS client presigns, and it would add a second parser, expiry
 * rules and canonical-query exceptions to the most exposed code in the server.
 *
 * The secret access key never reaches this module: a {@link SigningKeyProvider} returns the
 * derived kSigning for one (access key, date, region, service), normally computed inside the HSM.
 *
 * Checks run in the order AWS's front end applies them, so the first error a client sees is the
 * one AWS would report (order and wording recorded from real AWS answers by dynalite's
 * `index.js` and scratchstack-aws-signature).
 *
 * @module
 */
import { createHmac, hash } from 'node:crypto'
import type { Clock } from '../core/clock.js'
import { systemClock } from '../core/clock.js'
import { KmsError } from '../core/errors.js'
import { constantTimeEqual, zeroize } from '../core/secret.js'

/** An HTTP request as received, before anything has been parsed or re-serialized. */
export interface SigV4Request {
  /** HTTP method as received (`POST`). */
  method: string
  /** Raw request target as received, including the query string (`/`, `/a%20b?x=1`). */
  path: string
  /**
   * Header values by lowercase name. Node's `IncomingMessage.headers` works; pass
   * `IncomingMessage.headersDistinct` where repeated headers must be signed exactly, since
   * `headers` has already joined repeats with `", "` where SigV4 joins them with `","`.
   */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>
  /** The raw body bytes, exactly as received. */
  body: Uint8Array
}

/** What a {@link SigningKeyProvider} returns for a known access key. */
export interface SigningKeyGrant<P> {
  /**
   * kSigning = HMAC chain of `AWS4<secret>` over date, region, service and `aws4_request`.
   * The verifier takes ownership of these bytes and zeroizes them when it drops them, so return a
   * buffer that nothing else uses.
   */
  signingKey: Uint8Array
  /** The identity the access key belongs to, handed back by {@link SigV4Verifier.verify}. */
  principal: P
  /**
   * Set for temporary credentials: requests must carry `X-Amz-Security-Token` whose SHA-256 is
   * `tokenHash`, and are refused from `expiresAt` (ms since the epoch) on.
   */
  session?: { tokenHash: Uint8Array; expiresAt: number }
}

/**
 * Looks up an access key and derives its signing key for one credential scope. Resolves to
 * `undefined` for an unknown, disabled or deleted access key. `date` is `YYYYMMDD`.
 */
export type SigningKeyProvider<P> = (
  accessKeyId: string,
  date: string,
  region: string,
  service: string,
) => Promise<SigningKeyGrant<P> | undefined>

/** Options for {@link SigV4Verifier}. */
export interface SigV4VerifierOptions<P> {
  /** The only region credentials may be scoped to (`us-east-1`). */
  region: string
  /** The signing name credentials must be scoped to (`kms`, `iam`, `sts`). */
  service: string
  /** Source of signing keys; called only on a cache miss. */
  getSigningKey: SigningKeyProvider<P>
  /** Time source for the skew check and cache expiry. Defaults to the wall clock. */
  clock?: Clock
  /** Most signing keys held at once; the least recently used is dropped first. Default 1000; 0 disables caching. */
  cacheSize?: number
  /**
   * How long a cached signing key is trusted, in milliseconds. Default 5 minutes. It bounds how
   * long a revoked access key keeps working when nobody calls {@link SigV4Verifier.forget}.
   */
  cacheTtlMs?: number
}

/** The caller of a request whose signature checked out. */
export interface SigV4Identity<P> {
  accessKeyId: string
  principal: P
}

const ALGORITHM = 'AWS4-HMAC-SHA256'
const TERMINATOR = 'aws4_request'
const MAX_SKEW_MS = 15 * 60 * 1000
const DEFAULT_CACHE_SIZE = 1000
const DEFAULT_CACHE_TTL_MS = 5 * 60 * 1000

const MSG_MISSING_TOKEN = 'Request is missing Authentication Token'
const MSG_BAD_SIGNATURE =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.'
const MSG_BAD_TOKEN = 'The security token included in the request is invalid.'
const MSG_EXPIRED_TOKEN = 'The security token included in the request is expired'

interface CacheEntry<P> {
  readonly accessKeyId: string
  readonly signingKey: Uint8Array
  readonly principal: P
  readonly expiresAt: number
  readonly session?: { tokenHash: Uint8Array; expiresAt: number }
}

interface AuthorizationParts {
  algorithm: string
  credential: string
  signedHeaders: string
  signature: string
}

/**
 * An Authorization header parsed, without its signature. A client sends the same one on every
 * request it signs in a day, so the verifier keeps those of verified requests.
 */
interface ParsedAuthorization {
  algorithm: string
  credential: string
  signedHeaders: string
  /** SignedHeaders, lowercased. */
  lowerNames: readonly string[]
  /** Credential split on `/`, trailing slashes dropped. */
  scope: readonly string[]
}

/** Most parsed Authorization headers kept; the whole memo is dropped when it is full. */
const PARSED_AUTHORIZATION_CACHE = 256

/**
 * Verifies SigV4-signed requests for one region and service, with a bounded, expiring cache of
 * signing keys per (access key, date).
 *
 * @example
 * ```ts
 * const verifier = new SigV4Verifier({ region: 'us-east-1', service: 'kms', getSigningKey })
 * const { accessKeyId, principal } = await verifier.verify({
 *   method: req.method!, path: req.url!, headers: req.headersDistinct, body,
 * })
 * ```
 */
export class SigV4Verifier<P> {
  readonly #region: string
  readonly #service: string
  readonly #getSigningKey: SigningKeyProvider<P>
  readonly #clock: Clock
  readonly #cacheSize: number
  readonly #ttlMs: number
  readonly #cache = new Map<string, CacheEntry<P>>()
  readonly #pending = new Map<string, Promise<CacheEntry<P> | undefined>>()
  readonly #parsed = new Map<string, ParsedAuthorization>()
  #generation = 0
  #nextSweep = 0

  constructor(options: SigV4VerifierOptions<P>) {
    if (typeof options.region !== 'string' || options.region === '') {
      throw new TypeError('SigV4Verifier: region must be a non-empty string')
    }
    const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE
    const ttlMs = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new TypeError('SigV4Verifier: cacheSize must be a non-negative integer')
    }
    if (!Number.isFinite(ttlMs) || ttlMs < 0) {
      throw new TypeError('SigV4Verifier: cacheTtlMs must be a non-negative number')
    }
    this.#region = options.region
    this.#service = options.service
    this.#getSigningKey = options.getSigningKey
    this.#clock = options.clock ?? systemClock
    this.#cacheSize = cacheSize
    this.#ttlMs = ttlMs
  }

  /**
   * Checks the request's SigV4 signature and returns who signed it. Throws {@link KmsError}
   * with `MissingAuthenticationTokenException`, `IncompleteSignatureException`,
   * `InvalidSignatureException` or `UnrecognizedClientException`; anything else thrown comes
   * from the signing-key provider.
   */
  async verify(req: SigV4Request): Promise<SigV4Identity<P>> {
    const headers = req.headers
    const authorization = firstValue(headers, 'authorization')
    const { rawPath, rawQuery } = splitTarget(req.path)
    const queryAuth = hasQueryParam(rawQuery, 'X-Amz-Algorithm')

    if (authorization === undefined) {
      if (queryAuth) {
        throw new KmsError(
          'IncompleteSignatureException',
          'Query-string (presigned) authentication is not supported by this server. Sign the request with an Authorization header.',
        )
      }
      throw new KmsError('MissingAuthenticationTokenException', MSG_MISSING_TOKEN)
    }
    if (queryAuth) {
      throw new KmsError(
        'InvalidSignatureException',
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
      )
    }
    // AWS treats any scheme other than AWS4-* (Basic, Bearer, SigV2) as no credentials at all.
    if (!authorization.trimStart().startsWith('AWS4-')) {
      throw new KmsError('MissingAuthenticationTokenException', MSG_MISSING_TOKEN)
    }

    const amzDate = firstValue(headers, 'x-amz-date')
    const dateHeaderName = amzDate !== undefined ? 'x-amz-date' : 'date'
    const dateValue = amzDate ?? firstValue(headers, 'date')
    const split = dateValue === undefined ? undefined : splitSignature(authorization)
    const known = split === undefined ? undefined : this.#parsed.get(split.prefix)
    let auth: ParsedAuthorization
    let signature: string
    if (known !== undefined) {
      auth = known
      signature = split!.signature
    } else {
      const parts = parseAuthorization(authorization, dateValue !== undefined)
      auth = { ...parts, lowerNames: parts.signedHeaders.split(';').map((n) => n.toLowerCase()), scope: parts.credential.replace(/\/+$/, '').split('/') }
      signature = parts.signature
    }

    const longDate = dateValue ?? ''
    const requestTime = parseBasicIso8601(longDate)
    if (requestTime === undefined) {
      throw new KmsError(
        'IncompleteSignatureException',
        `Date must be in ISO-8601 'basic format'. Got '${longDate}'. See http://en.wikipedia.org/wiki/ISO_8601`,
      )
    }
    this.#checkSkew(requestTime, longDate)

    const lowerNames = auth.lowerNames
    if (!lowerNames.includes('host') && !lowerNames.includes(':authority')) {
      throw new KmsError(
        'InvalidSignatureException',
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
      )
    }
    if (!lowerNames.includes(dateHeaderName)) {
      throw new KmsError(
        'InvalidSignatureException',
        `'${dateHeaderName === 'date' ? 'Date' : 'X-Amz-Date'}' must be a 'SignedHeader' in the AWS Authorization.`,
      )
    }
    if (auth.algorithm !== ALGORITHM) {
      throw new KmsError(
        'IncompleteSignatureException',
        `Unsupported AWS 'algorithm': '${auth.algorithm}' (only ${ALGORITHM} for now). `,
      )
    }

    const scope = auth.scope
    if (scope.length !== 5) {
      throw new KmsError(
        'IncompleteSignatureException',
        `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${auth.credential}'`,
      )
    }
    const [accessKeyId, scopeDate, scopeRegion, scopeService, scopeTerminator] = scope as [
      string,
      string,
      string,
      string,
      string,
    ]
    this.#checkScope(scopeDate, scopeRegion, scopeService, scopeTerminator, longDate)

    if (accessKeyId === '') throw new KmsError('UnrecognizedClientException', MSG_BAD_TOKEN)

    const entry = await this.#lookup(accessKeyId, scopeDate)
    if (entry === undefined) throw new KmsError('UnrecognizedClientException', MSG_BAD_TOKEN)
    const token = firstValue(headers, 'x-amz-security-token')
    if (entry.session === undefined) {
      // Long-term credentials: a session token is one Trent did not issue for them.
      if (token !== undefined) throw new KmsError('UnrecognizedClientException', MSG_BAD_TOKEN)
    } else {
      const tokenHash = hash('sha256', token ?? '', 'buffer')
      if (token === undefined || !constantTimeEqual(tokenHash, entry.session.tokenHash)) {
        throw new KmsError('UnrecognizedClientException', MSG_BAD_TOKEN)
      }
      if (this.#clock.now() >= entry.session.expiresAt) throw new KmsError('ExpiredTokenException', MSG_EXPIRED_TOKEN)
    }

    // Everything from here to the compare is synchronous: evicted keys are zeroized only in a
    // later macrotask, so `entry.signingKey` cannot be wiped under us.
    const payloadHash = hash('sha256', req.body, 'hex')
    // Clients (the JS SDK among them) sign the header's value as the payload hash without
    // hashing the body; a header that disagrees with the body would let a body be swapped.
    const claimedHash = firstValue(headers, 'x-amz-content-sha256')
    if (claimedHash !== undefined && claimedHash !== payloadHash) {
      throw new KmsError('InvalidSignatureException', MSG_BAD_SIGNATURE)
    }

    const canonicalRequest = `${req.method}\n${canonicalUri(rawPath)}\n${canonicalQuery(rawQuery)}\n${canonicalHeaders(headers, lowerNames)}\n${auth.signedHeaders}\n${payloadHash}`
    const stringToSign = `${ALGORITHM}\n${longDate}\n${scopeDate}/${scopeRegion}/${scopeService}/${TERMINATOR}\n${hash('sha256', canonicalRequest, 'hex')}`
    const expected = createHmac('sha256', entry.signingKey).update(stringToSign, 'utf8').digest('hex')

    if (!constantTimeEqual(Buffer.from(expected, 'latin1'), Buffer.from(signature, 'latin1'))) {
      throw new KmsError('InvalidSignatureException', MSG_BAD_SIGNATURE)
    }
    if (split !== undefined && known === undefined) this.#remember(split.prefix, auth)
    return { accessKeyId, principal: entry.principal }
  }

  /**
   * Drops every cached signing key of `accessKeyId`, and discards any lookup for it still in
   * flight. Call when an access key is disabled, deleted or rotated.
   */
  forget(accessKeyId: string): void {
    this.#generation++
    for (const [id, entry] of this.#cache) {
      if (entry.accessKeyId === accessKeyId) this.#evict(id, entry)
    }
    for (const id of this.#pending.keys()) {
      if (id.slice(0, id.lastIndexOf('/')) === accessKeyId) this.#pending.delete(id)
    }
  }

  /** Drops every cached signing key. */
  clear(): void {
    this.#generation++
    for (const [id, entry] of this.#cache) this.#evict(id, entry)
    this.#pending.clear()
  }

  /** Number of signing keys currently cached (expired ones included until swept). */
  get cacheSize(): number {
    return this.#cache.size
  }

  #checkSkew(requestTime: number, longDate: string): void {
    const now = this.#clock.now()
    if (requestTime < now - MAX_SKEW_MS) {
      throw new KmsError(
        'InvalidSignatureException',
        `Signature expired: ${longDate} is now earlier than ${formatBasic(now - MAX_SKEW_MS)} (${formatBasic(now)} - 15 min.)`,
      )
    }
    if (requestTime > now + MAX_SKEW_MS) {
      throw new KmsError(
        'InvalidSignatureException',
        `Signature not yet current: ${longDate} is still later than ${formatBasic(now + MAX_SKEW_MS)} (${formatBasic(now)} + 15 min.)`,
      )
    }
  }

  #checkScope(date: string, region: string, service: string, terminator: string, longDate: string): void {
    // AWS reports every wrong scope element at once, each sentence ending in ". ".
    let message = ''
    if (region !== this.#region) message += `Credential should be scoped to a valid region, not '${region}'. `
    if (service !== this.#service) message += `Credential should be scoped to correct service: '${this.#service}'. `
    if (terminator !== TERMINATOR) {
      message += `Credential should be scoped with a valid terminator: '${TERMINATOR}', not '${terminator}'. `
    }
    if (date !== longDate.slice(0, 8)) {
      message += `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${date}' != '${longDate.slice(0, 8)}', from '${longDate}'.`
    }
    if (message !== '') throw new KmsError('InvalidSignatureException', message)
  }

  /** Keeps the parse of a verified request's Authorization header, so unauthenticated callers cannot fill the memo. */
  #remember(prefix: string, auth: ParsedAuthorization): void {
    if (this.#parsed.size >= PARSED_AUTHORIZATION_CACHE) this.#parsed.clear()
    this.#parsed.set(prefix, auth)
  }

  #lookup(accessKeyId: string, date: string): CacheEntry<P> | Promise<CacheEntry<P> | undefined> {
    // An access key id never contains '/' (the credential was split on it), so this is unique.
    const id = `${accessKeyId}/${date}`
    const hit = this.#cache.get(id)
    if (hit !== undefined) {
      if (hit.expiresAt > this.#clock.now()) {
        this.#cache.delete(id)
        this.#cache.set(id, hit)
        return hit
      }
      this.#evict(id, hit)
    }
    const inFlight = this.#pending.get(id)
    if (inFlight !== undefined) return inFlight
    const loading: Promise<CacheEntry<P> | undefined> = this.#load(accessKeyId, date, id).finally(() => {
      if (this.#pending.get(id) === loading) this.#pending.delete(id)
    })
    this.#pending.set(id, loading)
    return loading
  }

  async #load(accessKeyId: string, date: string, id: string): Promise<CacheEntry<P> | undefined> {
    const generation = this.#generation
    const grant = await this.#getSigningKey(accessKeyId, date, this.#region, this.#service)
    if (grant === undefined) return undefined
    const entry: CacheEntry<P> = {
      accessKeyId,
      signingKey: grant.signingKey,
      principal: grant.principal,
      expiresAt: this.#clock.now() + this.#ttlMs,
      ...(grant.session === undefined ? {} : { session: grant.session }),
    }
    // A forget() while the provider was answering means this key may just have been revoked:
    // let the waiting requests finish with it, but do not keep it.
    if (generation === this.#generation && this.#cacheSize > 0 && this.#ttlMs > 0) {
      this.#insert(id, entry)
    } else {
      zeroizeLater(entry.signingKey)
    }
    return entry
  }

  #insert(id: string, entry: CacheEntry<P>): void {
    const now = this.#clock.now()
    if (now >= this.#nextSweep) {
      for (const [otherId, other] of this.#cache) {
        if (other.expiresAt <= now) this.#evict(otherId, other)
      }
      this.#nextSweep = now + Math.max(this.#ttlMs, 1000)
    }
    const previous = this.#cache.get(id)
    if (previous !== undefined) this.#evict(id, previous)
    this.#cache.set(id, entry)
    while (this.#cache.size > this.#cacheSize) {
      const oldest = this.#cache.entries().next().value
      if (oldest === undefined) break
      this.#evict(oldest[0], oldest[1])
    }
  }

  #evict(id: string, entry: CacheEntry<P>): void {
    if (this.#cache.get(id) === entry) this.#cache.delete(id)
    zeroizeLater(entry.signingKey)
  }
}

/**
 * Zeroizes after the current macrotask: a request that already holds the key finishes its HMAC
 * in microtasks, which all run before a setImmediate callback.
 */
function zeroizeLater(key: Uint8Array): void {
  setImmediate(() => zeroize(key))
}

function firstValue(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  name: string,
): string | undefined {
  const value = Object.hasOwn(headers, name) ? headers[name] : undefined
  if (typeof value === 'string') return value
  if (Array.isArray(value)) {
    const first: unknown = value[0]
    return typeof first === 'string' ? first : undefined
  }
  return undefined
}

function parseAuthorization(header: string, hasDate: boolean): AuthorizationParts {
  const [algorithm = '', ...components] = header.trim().split(/[\s,]+/)
  const params = new Map<string, string>()
  for (const component of components) {
    if (component === '') continue
    const eq = component.indexOf('=')
    if (eq < 0) {
      throw new KmsError(
        'IncompleteSignatureException',
        `'${component}' not a valid key=value pair (missing equal-sign) in Authorization header: '${header}'.`,
      )
    }
    const key = component.slice(0, eq)
    if (!params.has(key)) params.set(key, component.slice(eq + 1))
  }
  const credential = params.get('Credential') ?? ''
  const signature = params.get('Signature') ?? ''
  const signedHeaders = params.get('SignedHeaders') ?? ''
  let message = ''
  if (credential === '') message += "Authorization header requires 'Credential' parameter. "
  if (signature === '') message += "Authorization header requires 'Signature' parameter. "
  if (signedHeaders === '') message += "Authorization header requires 'SignedHeaders' parameter. "
  if (!hasDate) message += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
  if (message !== '') throw new KmsError('IncompleteSignatureException', `${message}Authorization=${header}`)
  return { algorithm, credential, signedHeaders, signature }
}

const SIGNATURE_PARAM = 'Signature='
const SIGNATURE_HEX = /^[0-9a-f]{64}$/

/**
 * Splits `…, Signature=<64 hex>` into what precedes `Signature=` and the signature, when the
 * signature is the last component and the only one named Signature. Parsing the header then
 * gives the same result for every signature, so the parse can be reused; any other shape
 * (undefined) is parsed in full.
 */
function splitSignature(header: string): { prefix: string; signature: string } | undefined {
  const at = header.indexOf(SIGNATURE_PARAM)
  if (at <= 0 || header.includes(SIGNATURE_PARAM, at + 1)) return undefined
  const separator = header.charCodeAt(at - 1)
  if (separator !== 0x20 && separator !== 0x2c) return undefined
  const signature = header.slice(at + SIGNATURE_PARAM.length)
  return SIGNATURE_HEX.test(signature) ? { prefix: header.slice(0, at), signature } : undefined
}

const BASIC_ISO8601 = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/

// Requests signed in the same second carry the same date: the last one parsed is kept.
let lastDate = ''
let lastTime: number | undefined

/** Milliseconds since the epoch for `YYYYMMDDTHHMMSSZ`, or undefined when malformed or not a real time. */
function parseBasicIso8601(value: string): number | undefined {
  if (value !== lastDate) {
    lastTime = parseBasicIso8601Uncached(value)
    lastDate = value
  }
  return lastTime
}

function parseBasicIso8601Uncached(value: string): number | undefined {
  const m = BASIC_ISO8601.exec(value)
  if (m === null) return undefined
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number]
  const ms = Date.UTC(y, mo - 1, d, h, mi, s)
  return formatBasic(ms) === value ? ms : undefined
}

function formatBasic(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')
}

function splitTarget(target: string): { rawPath: string; rawQuery: string } {
  const q = target.indexOf('?')
  return q < 0 ? { rawPath: target, rawQuery: '' } : { rawPath: target.slice(0, q), rawQuery: target.slice(q + 1) }
}

function hasQueryParam(rawQuery: string, name: string): boolean {
  if (rawQuery === '') return false
  for (const pair of rawQuery.split('&')) {
    const eq = pair.indexOf('=')
    const key = eq < 0 ? pair : pair.slice(0, eq)
    if (key === name || Buffer.from(percentDecode(key)).toString('latin1') === name) return true
  }
  return false
}

/** `%XX` for every byte except RFC 3986 unreserved characters, as SigV4's UriEncode. */
const ENCODED_BYTE: readonly string[] = Array.from({ length: 256 }, (_, b) => {
  const c = String.fromCharCode(b)
  return /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
})

function uriEncode(bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) out += ENCODED_BYTE[b] as string
  return out
}

function isHex(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66)
}

/** Decodes `%XX` escapes to bytes; a `%` not followed by two hex digits stays a literal `%`. */
function percentDecode(value: string): Uint8Array {
  const input = Buffer.from(value, 'utf8')
  if (!input.includes(0x25)) return input
  const out = new Uint8Array(input.length)
  let n = 0
  for (let i = 0; i < input.length; i++) {
    const b = input[i] as number
    const hi = input[i + 1]
    const lo = input[i + 2]
    if (b === 0x25 && hi !== undefined && lo !== undefined && isHex(hi) && isHex(lo)) {
      out[n++] = Number.parseInt(String.fromCharCode(hi, lo), 16)
      i += 2
    } else {
      out[n++] = b
    }
  }
  return out.subarray(0, n)
}

/**
 * Canonical URI for every service but S3: dot segments and empty segments removed, then the
 * path as received (already encoded once by the client) encoded once more, keeping `/`.
 */
function canonicalUri(rawPath: string): string {
  if (rawPath === '/' || rawPath === '') return '/'
  const segments: string[] = []
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') segments.pop()
    else segments.push(uriEncode(Buffer.from(segment, 'utf8')))
  }
  const lead = rawPath.startsWith('/') ? '/' : ''
  const trail = segments.length > 0 && rawPath.endsWith('/') ? '/' : ''
  return `${lead}${segments.join('/')}${trail}`
}

/** Canonical query: each name and value decoded and re-encoded, sorted by name then value. */
function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return ''
  const pairs: Array<[string, string]> = []
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const name = eq < 0 ? pair : pair.slice(0, eq)
    const value = eq < 0 ? '' : pair.slice(eq + 1)
    pairs.push([uriEncode(percentDecode(name)), uriEncode(percentDecode(value))])
  }
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
  return pairs.map(([n, v]) => `${n}=${v}`).join('&')
}

/** Canonical header lines, each ending in a newline, for the signed names in the order given. */
function canonicalHeaders(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  names: readonly string[],
): string {
  let out = ''
  for (const name of names) {
    const raw = Object.hasOwn(headers, name) ? headers[name] : undefined
    out += `${name}:`
    if (typeof raw === 'string') out += trimHeaderValue(raw)
    else if (Array.isArray(raw)) {
      let separator = ''
      for (const v of raw as readonly unknown[]) {
        if (typeof v !== 'string') continue
        out += separator + trimHeaderValue(v)
        separator = ','
      }
    }
    out += '\n'
  }
  return out
}

const UNTRIMMED = /[\t\r\n]| {2}|^ | $/

/** Runs of whitespace as one space, none at either end (most values are already so). */
function trimHeaderValue(v: string): string {
  return UNTRIMMED.test(v) ? v.replace(/[\t\r\n ]+/g, ' ').replace(/^ | $/g, '') : v
}
