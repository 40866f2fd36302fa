import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { SignatureV4 } from '@smithy/signature-v4'
import { HttpRequest } from '@smithy/protocol-http'
import { Sha256 } from '@aws-crypto/sha256-js'
import { KmsError } from '../core/errors.js'
import type { KmsErrorCode } from '../core/errors.js'
import { SigV4Verifier } from './sigv4.js'
import type { SigV4Request, SigningKeyProvider } from './sigv4.js'

const AKID = 'AKIAIOSFODNN7EXAMPLE'
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
const REGION = 'us-east-1'
/** 2026-11-23T08:30:00Z */
const NOW = Date.UTC(2026, 10, 23, 8, 30, 0)
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.'
const BAD_TOKEN = 'The security token included in the request is invalid.'

/** The signing-key derivation the HSM performs, written out independently of the verifier. */
function deriveSigningKey(secret: string, date: string, region: string, service: string): Uint8Array {
  let key: Uint8Array = Buffer.from(`AWS4${secret}`, 'utf8')
  for (const part of [date, region, service, 'aws4_request']) {
    key = createHmac('sha256', key).update(part, 'utf8').digest()
  }
  return key
}

interface TestProvider {
  provider: SigningKeyProvider<{ user: string }>
  calls: string[]
  issued: Uint8Array[]
  secrets: Map<string, string>
}

function makeProvider(secrets: Record<string, string> = { [AKID]: SECRET }): TestProvider {
  const state: TestProvider = {
    calls: [],
    issued: [],
    secrets: new Map(Object.entries(secrets)),
    provider: async (accessKeyId, date, region, service) => {
      state.calls.push(`${accessKeyId}/${date}/${region}/${service}`)
      const secret = state.secrets.get(accessKeyId)
      if (secret === undefined) return undefined
      const signingKey = deriveSigningKey(secret, date, region, service)
      state.issued.push(signingKey)
      return { signingKey, principal: { user: `user-of-${accessKeyId}` } }
    },
  }
  return state
}

function fixedClock(t = NOW): { t: number; now(): number } {
  return {
    t,
    now() {
      return this.t
    },
  }
}

function makeVerifier(tp = makeProvider(), clock = fixedClock(), extra: { cacheSize?: number; cacheTtlMs?: number } = {}) {
  return new SigV4Verifier({ region: REGION, service: 'kms', getSigningKey: tp.provider, clock, ...extra })
}

function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

interface SignInput {
  method?: string
  /** Path as it goes on the wire (already URI-encoded). */
  path?: string
  query?: Record<string, string | string[]>
  headers?: Record<string, string>
  body?: string | Uint8Array
  at?: number
  accessKeyId?: string
  secret?: string
  region?: string
  service?: string
  /** Add x-amz-content-sha256 as the JS SDK does. */
  applyChecksum?: boolean
  sessionToken?: string
}

/** Signs with @smithy/signature-v4 (the oracle) and returns the request as the server would see it. */
async function sign(input: SignInput = {}): Promise<SigV4Request> {
  const body = typeof input.body === 'string' ? Buffer.from(input.body, 'utf8') : (input.body ?? new Uint8Array())
  const headers: Record<string, string> = {
    host: 'kms.example.test:7300',
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': 'TrentService.Encrypt',
    ...input.headers,
  }
  const credentials = {
    accessKeyId: input.accessKeyId ?? AKID,
    secretAccessKey: input.secret ?? SECRET,
    ...(input.sessionToken !== undefined ? { sessionToken: input.sessionToken } : {}),
  }
  const signer = new SignatureV4({
    credentials,
    region: input.region ?? REGION,
    service: input.service ?? 'kms',
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: input.applyChecksum ?? false,
  })
  const path = input.path ?? '/'
  const signed = await signer.sign(
    new HttpRequest({
      method: input.method ?? 'POST',
      protocol: 'https:',
      hostname: 'kms.example.test',
      port: 7300,
      path,
      headers,
      body,
      ...(input.query !== undefined ? { query: input.query } : {}),
    }),
    { signingDate: new Date(input.at ?? NOW) },
  )
  const query = Object.keys(input.query ?? {})
    .sort()
    .flatMap((k) => {
      const v = (input.query ?? {})[k] ?? ''
      return (Array.isArray(v) ? v : [v]).map((x) => `${escapeUri(k)}=${escapeUri(x)}`)
    })
    .join('&')
  const wireHeaders: Record<string, string> = {}
  for (const [k, v] of Object.entries(signed.headers)) wireHeaders[k.toLowerCase()] = v
  return { method: signed.method, path: query === '' ? path : `${path}?${query}`, headers: wireHeaders, body }
}

function withHeaders(req: SigV4Request, changes: Record<string, string | string[] | undefined>): SigV4Request {
  const headers: Record<string, string | readonly string[] | undefined> = { ...req.headers }
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete headers[k]
    else headers[k] = v
  }
  return { ...req, headers }
}

function authOf(req: SigV4Request): string {
  const a = req.headers['authorization']
  assert.equal(typeof a, 'string')
  return a as string
}

async function rejects(promise: Promise<unknown>, code: KmsErrorCode, message?: string | RegExp): Promise<KmsError> {
  try {
    await promise
  } catch (e) {
    assert.ok(e instanceof KmsError, `expected KmsError, got ${String(e)}`)
    assert.equal(e.code, code, `code (message: ${e.message})`)
    if (typeof message === 'string') assert.equal(e.message, message)
    else if (message !== undefined) assert.match(e.message, message)
    return e
  }
  assert.fail(`expected ${code}, but the request verified`)
}

describe('SigV4Verifier: requests signed by @smithy/signature-v4 verify', () => {
  it('JS SDK style: x-amz-content-sha256 signed, compact JSON body', async () => {
    const req = await sign({
      applyChecksum: true,
      headers: { 'x-amz-user-agent': 'aws-sdk-js/3.1163.0', 'amz-sdk-request': 'attempt=1; max=1' },
      body: '{"KeyId":"alias/app","Plaintext":"aGVsbG8="}',
    })
    assert.match(authOf(req), /SignedHeaders=amz-sdk-request;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target;x-amz-user-agent,/)
    const tp = makeProvider()
    const who = await makeVerifier(tp).verify(req)
    assert.deepEqual(who, { accessKeyId: AKID, principal: { user: `user-of-${AKID}` } })
    assert.deepEqual(tp.calls, [`${AKID}/20261123/us-east-1/kms`])
  })

  it('botocore style: ": " spacing in the body, four signed headers, no content hash header', async () => {
    const req = await sign({ body: '{"KeyId": "alias/app", "Plaintext": "aGVsbG8=", "EncryptionContext": {"purpose": "test"}}' })
    assert.match(authOf(req), /SignedHeaders=content-type;host;x-amz-date;x-amz-target,/)
    await makeVerifier().verify(req)
  })

  it('unicode body and a header value with runs of spaces and tabs', async () => {
    const req = await sign({
      applyChecksum: true,
      body: '{"Plaintext":"ü€😀 – ünïcödé","EncryptionContext":{"名前":"値"}}',
      headers: { 'x-amz-meta-note': '  several   spaces\tand\t\ttabs  ' },
    })
    assert.match(authOf(req), /x-amz-meta-note/)
    await makeVerifier().verify(req)
  })

  it('a query string with repeated, unsorted, empty and reserved-character parameters', async () => {
    const req = await sign({
      method: 'GET',
      path: '/some/path',
      query: { b: '2', a: ['z', 'y'], 'sp ace': 'v/w+x=~', empty: '', 'ü': 'ñ' },
    })
    assert.match(req.path, /^\/some\/path\?/)
    await makeVerifier().verify(req)
  })

  it('a path whose segments need encoding once more (non-S3 double encoding)', async () => {
    const req = await sign({ path: '/a%20b/%C3%BC/c~d/', body: '{}' })
    await makeVerifier().verify(req)
  })

  it('an empty body', async () => {
    const req = await sign({ method: 'GET', headers: { 'content-type': 'application/json' } })
    await makeVerifier().verify(req)
  })

  it('a repeated header given as an array is joined with "," as the signer did', async () => {
    const req = await sign({ headers: { 'x-amz-meta-list': 'one,two' }, body: '{}' })
    await makeVerifier().verify(withHeaders(req, { 'x-amz-meta-list': ['one', ' two '] }))
    await rejects(makeVerifier().verify(withHeaders(req, { 'x-amz-meta-list': 'one, two' })), 'InvalidSignatureException', MISMATCH)
  })

  it('headers added after signing (proxies, user agent) do not matter', async () => {
    const req = await sign({ body: '{}' })
    await makeVerifier().verify(
      withHeaders(req, { 'x-forwarded-for': '10.0.0.1', 'user-agent': 'changed/1.0', connection: 'keep-alive', accept: '*/*' }),
    )
  })

  it('single-element arrays (IncomingMessage.headersDistinct) work for every header', async () => {
    const req = await sign({ applyChecksum: true, body: '{"a":1}' })
    const distinct: Record<string, string[]> = {}
    for (const [k, v] of Object.entries(req.headers)) distinct[k] = [v as string]
    await makeVerifier().verify({ ...req, headers: distinct })
  })

  it('a request exactly 15 minutes old or ahead is still current', async () => {
    const verifier = makeVerifier(makeProvider(), fixedClock(NOW + 15 * 60_000))
    await verifier.verify(await sign({ body: '{}' }))
    const ahead = makeVerifier(makeProvider(), fixedClock(NOW - 15 * 60_000))
    await ahead.verify(await sign({ body: '{}' }))
  })
})

interface CapturedFile {
  accessKeyId: string
  secretAccessKey: string
  region: string
  requests: Array<{ name: string; method: string; path: string; headers: Record<string, string>; body: string; signature: string }>
}

describe('SigV4Verifier: requests captured from real clients (test/vectors/sigv4)', () => {
  const file = JSON.parse(
    readFileSync(new URL('../../../test/vectors/sigv4/captured-requests.json', import.meta.url), 'utf8'),
  ) as CapturedFile

  for (const vector of file.requests) {
    const amzDate = vector.headers['x-amz-date'] as string
    const at = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15))
    const request: SigV4Request = {
      method: vector.method,
      path: vector.path,
      headers: vector.headers,
      body: Buffer.from(vector.body, 'utf8'),
    }

    it(`${vector.name}: verifies byte for byte`, async () => {
      assert.ok(authOf(request).endsWith(`Signature=${vector.signature}`))
      const tp = makeProvider({ [file.accessKeyId]: file.secretAccessKey })
      const who = await makeVerifier(tp, fixedClock(at + 42_000)).verify(request)
      assert.equal(who.accessKeyId, file.accessKeyId)
    })

    it(`${vector.name}: the oracle reproduces the recorded signature`, async () => {
      const signedNames = /SignedHeaders=([^,]+)/.exec(authOf(request))?.[1]?.split(';') ?? []
      const headers: Record<string, string> = {}
      for (const n of signedNames) headers[n] = vector.headers[n] as string
      const signer = new SignatureV4({
        credentials: { accessKeyId: file.accessKeyId, secretAccessKey: file.secretAccessKey },
        region: file.region,
        service: 'kms',
        sha256: Sha256,
        applyChecksum: false,
      })
      const signed = await signer.sign(
        new HttpRequest({ method: vector.method, hostname: '127.0.0.1', path: vector.path, headers, body: request.body }),
        { signingDate: new Date(at), signableHeaders: new Set(signedNames), unsignableHeaders: new Set() },
      )
      assert.ok(String(signed.headers['authorization']).endsWith(`Signature=${vector.signature}`))
    })

    it(`${vector.name}: a different secret, a changed body or a changed signed header fails`, async () => {
      const clock = fixedClock(at)
      await rejects(
        makeVerifier(makeProvider({ [file.accessKeyId]: 'another-secret' }), clock).verify(request),
        'InvalidSignatureException',
        MISMATCH,
      )
      const tp = makeProvider({ [file.accessKeyId]: file.secretAccessKey })
      await rejects(
        makeVerifier(tp, clock).verify({ ...request, body: Buffer.from(`${vector.body} `, 'utf8') }),
        'InvalidSignatureException',
        MISMATCH,
      )
      await rejects(
        makeVerifier(tp, clock).verify(withHeaders(request, { 'x-amz-target': 'TrentService.ScheduleKeyDeletion' })),
        'InvalidSignatureException',
        MISMATCH,
      )
    })
  }
})

describe('SigV4Verifier: tampering and wrong credentials', () => {
  it('a tampered body fails (no content hash header)', async () => {
    const req = await sign({ body: '{"KeyId": "alias/app"}' })
    await rejects(makeVerifier().verify({ ...req, body: Buffer.from('{"KeyId": "alias/evil"}') }), 'InvalidSignatureException', MISMATCH)
  })

  it('a tampered body fails when x-amz-content-sha256 is signed', async () => {
    const req = await sign({ applyChecksum: true, body: '{"KeyId":"alias/app"}' })
    await rejects(makeVerifier().verify({ ...req, body: Buffer.from('{"KeyId":"alias/evil"}') }), 'InvalidSignatureException', MISMATCH)
  })

  it('x-amz-content-sha256 that lies about the body fails even though the signature over it is valid', async () => {
    const real = '{"KeyId":"alias/evil"}'
    const claimed = createHash('sha256').update('{"KeyId":"alias/app"}').digest('hex')
    // The signer trusts the header as the payload hash, so this signature is "valid" for any body.
    const req = await sign({ body: real, headers: { 'x-amz-content-sha256': claimed } })
    await rejects(makeVerifier().verify(req), 'InvalidSignatureException', MISMATCH)
    const unsigned = await sign({ body: real, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } })
    await rejects(makeVerifier().verify(unsigned), 'InvalidSignatureException', MISMATCH)
  })

  it('an unsigned x-amz-content-sha256 that disagrees with the body fails', async () => {
    const req = await sign({ body: '{}' })
    await rejects(makeVerifier().verify(withHeaders(req, { 'x-amz-content-sha256': '0'.repeat(64) })), 'InvalidSignatureException', MISMATCH)
  })

  it('a tampered signed header fails', async () => {
    const req = await sign({ body: '{}' })
    await rejects(makeVerifier().verify(withHeaders(req, { 'x-amz-target': 'TrentService.Decrypt' })), 'InvalidSignatureException', MISMATCH)
    await rejects(makeVerifier().verify(withHeaders(req, { host: 'other.example.test' })), 'InvalidSignatureException', MISMATCH)
  })

  it('a tampered method, path or query fails', async () => {
    const req = await sign({ path: '/a', query: { x: '1' }, body: '{}' })
    await rejects(makeVerifier().verify({ ...req, method: 'PUT' }), 'InvalidSignatureException', MISMATCH)
    await rejects(makeVerifier().verify({ ...req, path: '/b?x=1' }), 'InvalidSignatureException', MISMATCH)
    await rejects(makeVerifier().verify({ ...req, path: '/a?x=2' }), 'InvalidSignatureException', MISMATCH)
  })

  it('a wrong secret fails', async () => {
    const req = await sign({ secret: 'not-the-secret', body: '{}' })
    await rejects(makeVerifier().verify(req), 'InvalidSignatureException', MISMATCH)
  })

  it('a verifier that has seen the same Authorization header (but for its signature) still checks everything', async () => {
    const verifier = makeVerifier()
    const good = await sign({ applyChecksum: true, body: '{"KeyId":"alias/app"}' })
    await verifier.verify(good)
    const other = await sign({ applyChecksum: true, body: '{"KeyId":"alias/other"}' })
    assert.equal(authOf(other).replace(/Signature=.*/, ''), authOf(good).replace(/Signature=.*/, ''))
    assert.deepEqual(await verifier.verify(other), { accessKeyId: AKID, principal: { user: `user-of-${AKID}` } })
    const sig = /Signature=([0-9a-f]+)/.exec(authOf(good))?.[1] ?? ''
    const flipped = `${sig.slice(0, 63)}${sig.endsWith('0') ? '1' : '0'}`
    await rejects(verifier.verify(withHeaders(good, { authorization: authOf(good).replace(sig, flipped) })), 'InvalidSignatureException', MISMATCH)
    await rejects(verifier.verify({ ...good, body: Buffer.from('{"KeyId":"alias/evil"}') }), 'InvalidSignatureException', MISMATCH)
    await rejects(verifier.verify(withHeaders(good, { 'x-amz-target': 'TrentService.Decrypt' })), 'InvalidSignatureException', MISMATCH)
    await rejects(verifier.verify(withHeaders(good, { authorization: authOf(other) })), 'InvalidSignatureException', MISMATCH)
  })

  it('a signature in another case or of another length fails', async () => {
    const req = await sign({ body: '{}' })
    const auth = authOf(req)
    const sig = /Signature=([0-9a-f]+)/.exec(auth)?.[1] ?? ''
    await rejects(makeVerifier().verify(withHeaders(req, { authorization: auth.replace(sig, sig.toUpperCase()) })), 'InvalidSignatureException', MISMATCH)
    await rejects(makeVerifier().verify(withHeaders(req, { authorization: auth.replace(sig, sig.slice(0, 63)) })), 'InvalidSignatureException', MISMATCH)
  })

  it('an unknown access key is UnrecognizedClientException', async () => {
    const tp = makeProvider()
    const req = await sign({ accessKeyId: 'AKIAUNKNOWNKEY000000', body: '{}' })
    await rejects(makeVerifier(tp).verify(req), 'UnrecognizedClientException', BAD_TOKEN)
    assert.deepEqual(tp.calls, ['AKIAUNKNOWNKEY000000/20261123/us-east-1/kms'])
  })

  it('a session token on long-term credentials is UnrecognizedClientException', async () => {
    const tp = makeProvider()
    const req = await sign({ sessionToken: 'FwoGZXIvYXdzEXAMPLE', body: '{}' })
    assert.equal(req.headers['x-amz-security-token'], 'FwoGZXIvYXdzEXAMPLE')
    await rejects(makeVerifier(tp).verify(req), 'UnrecognizedClientException', BAD_TOKEN)
  })

  it('temporary credentials need their own session token, and expire', async () => {
    const token = 'session-token-of-test'
    const tokenHash = new Uint8Array(createHash('sha256').update(token).digest())
    const clock = fixedClock()
    const provider: SigningKeyProvider<{ user: string }> = async (accessKeyId, date, region, service) =>
      accessKeyId === AKID ? { signingKey: deriveSigningKey(SECRET, date, region, service), principal: { user: 'session' }, session: { tokenHash, expiresAt: NOW + 60_000 } } : undefined
    const verifier = new SigV4Verifier({ region: 'us-east-1', service: 'kms', getSigningKey: provider, clock })
    assert.equal((await verifier.verify(await sign({ sessionToken: token, body: '{}' }))).principal.user, 'session')
    await rejects(verifier.verify(await sign({ body: '{}' })), 'UnrecognizedClientException', BAD_TOKEN)
    await rejects(verifier.verify(await sign({ sessionToken: `${token}x`, body: '{}' })), 'UnrecognizedClientException', BAD_TOKEN)
    clock.t = NOW + 60_000
    await rejects(verifier.verify(await sign({ sessionToken: token, body: '{}' })), 'ExpiredTokenException', 'The security token included in the request is expired')
  })
})

describe('SigV4Verifier: time', () => {
  it('a request more than 15 minutes old is expired, in AWS words', async () => {
    const req = await sign({ at: Date.UTC(2026, 10, 23, 8, 0, 0), body: '{}' })
    await rejects(
      makeVerifier(makeProvider(), fixedClock(Date.UTC(2026, 10, 23, 8, 30, 1))).verify(req),
      'InvalidSignatureException',
      'Signature expired: 20261123T080000Z is now earlier than 20261123T081501Z (20261123T083001Z - 15 min.)',
    )
  })

  it('a request more than 15 minutes ahead is not yet current, in AWS words', async () => {
    const req = await sign({ at: Date.UTC(2026, 10, 23, 9, 0, 0), body: '{}' })
    await rejects(
      makeVerifier(makeProvider(), fixedClock(Date.UTC(2026, 10, 23, 8, 30, 0))).verify(req),
      'InvalidSignatureException',
      'Signature not yet current: 20261123T090000Z is still later than 20261123T084500Z (20261123T083000Z + 15 min.)',
    )
  })

  it('the skew check happens before any key lookup', async () => {
    const tp = makeProvider()
    const req = await sign({ at: NOW - 60 * 60_000, body: '{}' })
    await rejects(makeVerifier(tp).verify(req), 'InvalidSignatureException', /^Signature expired/)
    assert.deepEqual(tp.calls, [])
  })

  it('a malformed or impossible x-amz-date is IncompleteSignatureException', async () => {
    const req = await sign({ body: '{}' })
    for (const bad of ['2026-11-23T08:30:00Z', '20261323T083000Z', '20261123T246000Z', '20261123T083000', 'Mon, 23 Nov 2026 08:30:00 GMT', '']) {
      await rejects(
        makeVerifier().verify(withHeaders(req, { 'x-amz-date': bad })),
        'IncompleteSignatureException',
        `Date must be in ISO-8601 'basic format'. Got '${bad}'. See http://en.wikipedia.org/wiki/ISO_8601`,
      )
    }
  })
})

describe('SigV4Verifier: credential scope', () => {
  it('a wrong region', async () => {
    const req = await sign({ region: 'eu-west-1', body: '{}' })
    await rejects(makeVerifier().verify(req), 'InvalidSignatureException', "Credential should be scoped to a valid region, not 'eu-west-1'. ")
  })

  it('a wrong service', async () => {
    const req = await sign({ service: 'dynamodb', body: '{}' })
    await rejects(makeVerifier().verify(req), 'InvalidSignatureException', "Credential should be scoped to correct service: 'kms'. ")
  })

  it('a scope date other than the x-amz-date day', async () => {
    const req = await sign({ body: '{}' })
    const auth = authOf(req).replace('/20261123/', '/20261122/')
    await rejects(
      makeVerifier().verify(withHeaders(req, { authorization: auth })),
      'InvalidSignatureException',
      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261122' != '20261123', from '20261123T083000Z'.",
    )
  })

  it('every wrong element is reported at once, in AWS order', async () => {
    const req = await sign({ body: '{}' })
    const auth = authOf(req).replace('/20261123/us-east-1/kms/aws4_request', '/b/c/d/e')
    await rejects(
      makeVerifier().verify(withHeaders(req, { authorization: auth })),
      'InvalidSignatureException',
      "Credential should be scoped to a valid region, not 'c'. Credential should be scoped to correct service: 'kms'. Credential should be scoped with a valid terminator: 'aws4_request', not 'e'. Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: 'b' != '20261123', from '20261123T083000Z'.",
    )
  })

  it('a credential without five elements is IncompleteSignatureException; trailing slashes are ignored', async () => {
    const req = await sign({ body: '{}' })
    const auth = authOf(req)
    await rejects(
      makeVerifier().verify(withHeaders(req, { authorization: auth.replace('/us-east-1/kms/aws4_request', '/us-east-1/kms') })),
      'IncompleteSignatureException',
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${AKID}/20261123/us-east-1/kms'`,
    )
    await makeVerifier().verify(withHeaders(req, { authorization: auth.replace('aws4_request,', 'aws4_request//,') }))
  })
})

describe('SigV4Verifier: malformed authentication', () => {
  it('no Authorization header is MissingAuthenticationTokenException', async () => {
    const req = await sign({ body: '{}' })
    await rejects(makeVerifier().verify(withHeaders(req, { authorization: undefined })), 'MissingAuthenticationTokenException', 'Request is missing Authentication Token')
  })

  it('a scheme other than AWS4-* is MissingAuthenticationTokenException', async () => {
    const req = await sign({ body: '{}' })
    for (const auth of ['Bearer abc.def.ghi', 'Basic dXNlcjpwYXNz', `AWS ${AKID}:frJIUN8DYpKDtOLCwo//yllqDzg=`, '']) {
      await rejects(makeVerifier().verify(withHeaders(req, { authorization: auth })), 'MissingAuthenticationTokenException')
    }
  })

  it('an unsupported AWS4 algorithm is IncompleteSignatureException', async () => {
    const req = await sign({ body: '{}' })
    const auth = authOf(req).replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512')
    await rejects(
      makeVerifier().verify(withHeaders(req, { authorization: auth })),
      'IncompleteSignatureException',
      "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). ",
    )
  })

  it('missing Credential, SignedHeaders or Signature parts are listed, with the header echoed', async () => {
    const req = await sign({ body: '{}' })
    const auth = authOf(req)
    const noCredential = auth.replace(/Credential=[^,]+, /, '')
    await rejects(
      makeVerifier().verify(withHeaders(req, { authorization: noCredential })),
      'IncompleteSignatureException',
      `Authorization header requires 'Credential' parameter. Authorization=${noCredential}`,
    )
    const noSignature = auth.replace(/, Signature=[0-9a-f]+/, '')
    await rejects(
      makeVerifier().verify(withHeaders(req, { authorization: noSignature })),
      'IncompleteSignatureException',
      `Authorization header requires 'Signature' parameter. Authorization=${noSignature}`,
    )
    const bare = withHeaders(req, { authorization: 'AWS4-HMAC-SHA256', 'x-amz-date': undefined })
    await rejects(
      makeVerifier().verify(bare),
      'IncompleteSignatureException',
      "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256",
    )
  })

  it('a component without "=" is IncompleteSignatureException', async () => {
    const req = await sign({ body: '{}' })
    const auth = authOf(req).replace(`Credential=${AKID}`, `Credential= ${AKID}`)
    await rejects(
      makeVerifier().verify(withHeaders(req, { authorization: auth })),
      'IncompleteSignatureException',
      `'${AKID}/20261123/us-east-1/kms/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: '${auth}'.`,
    )
  })

  it('commas alone (no spaces) separate components, as AWS accepts', async () => {
    const req = await sign({ body: '{}' })
    await makeVerifier().verify(withHeaders(req, { authorization: authOf(req).replace(/, /g, ',') }))
  })

  it('host must be signed', async () => {
    const req = await sign({ body: '{}' })
    const auth = authOf(req).replace('host;', '')
    await rejects(
      makeVerifier().verify(withHeaders(req, { authorization: auth })),
      'InvalidSignatureException',
      "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    )
  })

  it('x-amz-date must be signed', async () => {
    const req = await sign({ body: '{}' })
    const auth = authOf(req).replace(';x-amz-date', '')
    await rejects(
      makeVerifier().verify(withHeaders(req, { authorization: auth })),
      'InvalidSignatureException',
      "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
    )
  })

  it('presigned query-string authentication is refused; together with a header it is InvalidSignatureException', async () => {
    const req = await sign({ body: '{}' })
    const presigned = { ...withHeaders(req, { authorization: undefined }), path: '/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00' }
    await rejects(makeVerifier().verify(presigned), 'IncompleteSignatureException', /not supported/)
    await rejects(
      makeVerifier().verify({ ...req, path: '/?X-Amz-Algorithm=AWS4-HMAC-SHA256' }),
      'InvalidSignatureException',
      "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
    )
  })
})

describe('SigV4Verifier: garbage input only ever raises KmsError', () => {
  const fragments = [
    'AWS4-HMAC-SHA256', 'AWS4-', 'aws4-hmac-sha256', 'Credential=', `Credential=${AKID}/20261123/us-east-1/kms/aws4_request`,
    'Credential=/////', 'Credential=a/b/c/d/e/f', 'SignedHeaders=', 'SignedHeaders=host;x-amz-date', 'SignedHeaders=;;;',
    'SignedHeaders=__proto__;constructor;host;x-amz-date', 'Signature=', `Signature=${'0'.repeat(64)}`, 'Signature=zz', '=', '==',
    ',', ', ', '\t', ' ', '\u0000', '\ud800', '😀', '%', '%zz', 'Credential=%00/20261123/us-east-1/kms/aws4_request',
    'x'.repeat(5000),
  ]
  const dates = ['20261123T083000Z', '20261123T083000', '99999999T999999Z', '', '\ud800', '20261123T083000Z\n']
  const paths = ['/', '', '*', '/%', '/%zz/%C3', '/../../..', '/a/./b/../c//d', '/?', '/?&&=&==&%&%zz=%G0', '/?X-Amz-Algorithm', 'http://evil/x?y', '/\ud800?\ud800=\udfff']

  function rng(seed: number): () => number {
    let s = seed >>> 0
    return () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0
      return s / 2 ** 32
    }
  }

  it('2000 random requests', async () => {
    const random = rng(0xc0ffee)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T
    const tp = makeProvider({ [AKID]: SECRET, '': 'empty', '%00': 'x' })
    const verifier = makeVerifier(tp)
    for (let i = 0; i < 2000; i++) {
      const parts = Array.from({ length: Math.floor(random() * 6) }, () => pick(fragments))
      const separator = pick([' ', ', ', ',', '\t', ''])
      const auth = parts.join(separator)
      const headers: Record<string, unknown> = {
        host: pick(['kms.example.test', '', '\ud800']),
        authorization: pick([auth, [auth], [auth, auth], [], [42], undefined, `AWS4-HMAC-SHA256 ${auth}`]),
        'x-amz-date': pick([...dates, undefined, [pick(dates)], []]),
        date: pick([undefined, '20261123T083000Z', 'Mon, 23 Nov 2026 08:30:00 GMT']),
        'x-amz-content-sha256': pick([undefined, '', 'UNSIGNED-PAYLOAD', createHash('sha256').update('').digest('hex'), ['a', 'b']]),
        'x-amz-security-token': pick([undefined, undefined, undefined, '', 'token']),
        'x-amz-target': pick([undefined, 'TrentService.Encrypt', ['a', 7, null]]),
      }
      const req = {
        method: pick(['POST', 'GET', '', '\ud800']),
        path: pick(paths),
        headers: headers as SigV4Request['headers'],
        body: pick([new Uint8Array(), randomBytes(Math.floor(random() * 64))]),
      }
      try {
        await verifier.verify(req)
        assert.fail(`garbage verified: ${JSON.stringify(req.headers)}`)
      } catch (e) {
        assert.ok(e instanceof KmsError, `non-KmsError ${String(e)} for ${JSON.stringify(req)}`)
      }
    }
  })

  it('header names that collide with Object.prototype are plain data', async () => {
    const req = await sign({ body: '{}' })
    const auth = authOf(req).replace('SignedHeaders=', 'SignedHeaders=__proto__;constructor;toString;')
    await rejects(makeVerifier().verify(withHeaders(req, { authorization: auth })), 'InvalidSignatureException', MISMATCH)
  })
})

describe('SigV4Verifier: signing-key cache', () => {
  it('a cache hit does not call the provider again', async () => {
    const tp = makeProvider()
    const verifier = makeVerifier(tp)
    for (let i = 0; i < 5; i++) await verifier.verify(await sign({ body: `{"n":${i}}` }))
    assert.equal(tp.calls.length, 1)
    assert.equal(verifier.cacheSize, 1)
  })

  it('a new scope date is a new entry', async () => {
    const tp = makeProvider()
    const clock = fixedClock(Date.UTC(2026, 10, 23, 23, 59, 0))
    const verifier = makeVerifier(tp, clock)
    await verifier.verify(await sign({ at: clock.t, body: '{}' }))
    clock.t = Date.UTC(2026, 10, 24, 0, 1, 0)
    await verifier.verify(await sign({ at: clock.t, body: '{}' }))
    assert.deepEqual(tp.calls, [`${AKID}/20261123/us-east-1/kms`, `${AKID}/20261124/us-east-1/kms`])
  })

  it('an entry expires after the TTL, so a revoked key stops working', async () => {
    const tp = makeProvider()
    const clock = fixedClock()
    const verifier = makeVerifier(tp, clock)
    await verifier.verify(await sign({ body: '{}' }))
    clock.t += 5 * 60_000 - 1
    await verifier.verify(await sign({ at: clock.t, body: '{}' }))
    assert.equal(tp.calls.length, 1)
    tp.secrets.delete(AKID)
    clock.t += 2
    await rejects(verifier.verify(await sign({ at: clock.t, body: '{}' })), 'UnrecognizedClientException', BAD_TOKEN)
    assert.equal(tp.calls.length, 2)
  })

  it('forget() drops the key at once', async () => {
    const tp = makeProvider({ [AKID]: SECRET, AKIAOTHER: 'other-secret' })
    const verifier = makeVerifier(tp)
    await verifier.verify(await sign({ body: '{}' }))
    await verifier.verify(await sign({ accessKeyId: 'AKIAOTHER', secret: 'other-secret', body: '{}' }))
    tp.secrets.delete(AKID)
    verifier.forget(AKID)
    assert.equal(verifier.cacheSize, 1)
    await rejects(verifier.verify(await sign({ body: '{}' })), 'UnrecognizedClientException', BAD_TOKEN)
    await verifier.verify(await sign({ accessKeyId: 'AKIAOTHER', secret: 'other-secret', body: '{}' }))
    assert.equal(tp.calls.length, 3)
  })

  it('evicted signing keys are zeroized', async () => {
    const tp = makeProvider()
    const verifier = makeVerifier(tp)
    await verifier.verify(await sign({ body: '{}' }))
    const key = tp.issued[0] as Uint8Array
    assert.ok(key.some((b) => b !== 0))
    verifier.forget(AKID)
    await new Promise((resolve) => setImmediate(resolve))
    assert.ok(key.every((b) => b === 0))
  })

  it('the cache is bounded and drops the least recently used key', async () => {
    const secrets = { AKIAONE: 's1', AKIATWO: 's2', AKIATHREE: 's3' }
    const tp = makeProvider(secrets)
    const verifier = makeVerifier(tp, fixedClock(), { cacheSize: 2 })
    const as = (id: keyof typeof secrets) => sign({ accessKeyId: id, secret: secrets[id], body: '{}' })
    await verifier.verify(await as('AKIAONE'))
    await verifier.verify(await as('AKIATWO'))
    await verifier.verify(await as('AKIAONE'))
    await verifier.verify(await as('AKIATHREE'))
    assert.equal(verifier.cacheSize, 2)
    assert.equal(tp.calls.length, 3)
    await verifier.verify(await as('AKIAONE'))
    assert.equal(tp.calls.length, 3)
    await verifier.verify(await as('AKIATWO'))
    assert.equal(tp.calls.length, 4)
  })

  it('concurrent requests for one key share a single provider call', async () => {
    const tp = makeProvider()
    const verifier = makeVerifier(tp)
    const reqs = await Promise.all(Array.from({ length: 20 }, (_, i) => sign({ body: `{"i":${i}}` })))
    await Promise.all(reqs.map((r) => verifier.verify(r)))
    assert.equal(tp.calls.length, 1)
  })

  it('a key looked up while forget() runs is used once but not cached', async () => {
    const tp = makeProvider()
    const verifier = makeVerifier(tp)
    const pending = verifier.verify(await sign({ body: '{}' }))
    verifier.forget(AKID)
    await pending
    assert.equal(verifier.cacheSize, 0)
  })

  it('cacheSize 0 disables caching', async () => {
    const tp = makeProvider()
    const verifier = makeVerifier(tp, fixedClock(), { cacheSize: 0 })
    await verifier.verify(await sign({ body: '{}' }))
    await verifier.verify(await sign({ body: '{}' }))
    assert.equal(tp.calls.length, 2)
    assert.equal(verifier.cacheSize, 0)
  })

  it('unknown keys are not cached', async () => {
    const tp = makeProvider({})
    const verifier = makeVerifier(tp)
    const req = await sign({ body: '{}' })
    await rejects(verifier.verify(req), 'UnrecognizedClientException')
    tp.secrets.set(AKID, SECRET)
    await verifier.verify(req)
    assert.equal(tp.calls.length, 2)
  })

  it('a provider failure propagates unchanged (the API layer reports it as an internal error)', async () => {
    const boom = new Error('hsm unavailable')
    const verifier = new SigV4Verifier({
      region: REGION,
      service: 'kms',
      clock: fixedClock(),
      getSigningKey: async () => {
        throw boom
      },
    })
    await assert.rejects(verifier.verify(await sign({ body: '{}' })), (e) => e === boom)
  })
})
