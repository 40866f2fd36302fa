import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { CREDENTIALS, rawRequest, startTestServer, tempDataDir, type TestServer } from './harness.js'

describe('AWS JSON 1.1 protocol and SigV4 at the edge', () => {
  const data = tempDataDir()
  let server: TestServer

  before(async () => {
    server = await startTestServer(data.dir)
  })
  after(async () => {
    await server?.stop()
    data.cleanup()
  })

  function expectError(res: { status: number; body: any }, type: string, message?: string | RegExp): void {
    assert.equal(res.body.__type, type, JSON.stringify(res.body))
    const text = res.body.message ?? res.body.Message
    if (typeof message === 'string') assert.equal(text, message)
    else if (message) assert.match(text, message)
  }

  it('GET /health answers 200 JSON without authentication', async () => {
    const res = await fetch(`${server.url}/health`)
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { status: 'ok' })
  })

  it('answers the request id and the JSON 1.1 content type', async () => {
    const res = await rawRequest(server.url, { target: 'ListKeys' })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/x-amz-json-1.1')
    assert.match(res.headers.get('x-amzn-requestid')!, /^[0-9a-f-]{36}$/)
  })

  it('a request without credentials gets MissingAuthenticationTokenException', async () => {
    const res = await rawRequest(server.url, { target: 'ListKeys', sign: false })
    assert.equal(res.status, 400)
    expectError(res, 'MissingAuthenticationTokenException')
  })

  it('an unknown access key gets UnrecognizedClientException', async () => {
    const res = await rawRequest(server.url, { target: 'ListKeys', credentials: { accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'x' } })
    expectError(res, 'UnrecognizedClientException', 'The security token included in the request is invalid.')
  })

  it('a wrong secret gets InvalidSignatureException', async () => {
    const res = await rawRequest(server.url, { target: 'ListKeys', credentials: { ...CREDENTIALS, secretAccessKey: 'wrong' } })
    expectError(res, 'InvalidSignatureException', /does not match the signature you provided/)
  })

  it('a request dated more than 15 minutes ago gets InvalidSignatureException', async () => {
    const res = await rawRequest(server.url, { target: 'ListKeys', signingDate: new Date(Date.now() - 16 * 60_000) })
    expectError(res, 'InvalidSignatureException', /Signature expired/)
  })

  it('a request signed for another region is refused', async () => {
    const res = await rawRequest(server.url, { target: 'ListKeys', region: 'eu-west-1' })
    expectError(res, 'InvalidSignatureException')
  })

  it('a garbled Authorization header gets IncompleteSignatureException', async () => {
    const res = await rawRequest(server.url, { target: 'ListKeys', sign: false, headers: { authorization: 'AWS4-HMAC-SHA256 nonsense', 'x-amz-date': '20261123T000000Z' } })
    expectError(res, 'IncompleteSignatureException')
  })

  it('an unknown or missing target gets UnknownOperationException', async () => {
    expectError(await rawRequest(server.url, { target: 'FlyToTheMoon' }), 'UnknownOperationException')
    expectError(await rawRequest(server.url, {}), 'UnknownOperationException')
  })

  it('a bad ciphertext answers exactly AWS\'s body: InvalidCiphertextException with an empty message', async () => {
    const key = await rawRequest(server.url, { target: 'CreateKey' })
    const enc = await rawRequest(server.url, { target: 'Encrypt', body: JSON.stringify({ KeyId: key.body.KeyMetadata.KeyId, Plaintext: 'aGk=' }) })
    const blob = Buffer.from(enc.body.CiphertextBlob, 'base64')
    blob[blob.length - 1]! ^= 1
    const res = await rawRequest(server.url, { target: 'Decrypt', body: JSON.stringify({ CiphertextBlob: blob.toString('base64') }) })
    assert.equal(res.status, 400)
    assert.deepEqual(res.body, { __type: 'InvalidCiphertextException', message: '' })
  })

  it('malformed JSON gets SerializationException', async () => {
    expectError(await rawRequest(server.url, { target: 'ListKeys', body: '{"Limit": ' }), 'SerializationException')
    expectError(await rawRequest(server.url, { target: 'ListKeys', body: '[1,2]' }), 'SerializationException')
  })

  it('a member of the wrong JSON type gets SerializationException', async () => {
    expectError(await rawRequest(server.url, { target: 'ListKeys', body: '{"Limit": "ten"}' }), 'SerializationException')
    expectError(await rawRequest(server.url, { target: 'Encrypt', body: '{"KeyId": 5, "Plaintext": "eA=="}' }), 'SerializationException')
    expectError(await rawRequest(server.url, { target: 'Encrypt', body: '{"KeyId": "k", "Plaintext": "***"}' }), 'SerializationException')
  })

  it('missing required members and out-of-range values get AWS validation messages', async () => {
    const res = await rawRequest(server.url, { target: 'Encrypt', body: '{}' })
    assert.equal(res.status, 400)
    expectError(
      res,
      'ValidationException',
      "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; Value null at 'plaintext' failed to satisfy constraint: Member must not be null",
    )
    expectError(
      await rawRequest(server.url, { target: 'ListKeys', body: '{"Limit": 0}' }),
      'ValidationException',
      "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
    )
    expectError(
      await rawRequest(server.url, { target: 'CreateKey', body: '{"KeySpec": "AES_999"}' }),
      'ValidationException',
      /^1 validation error detected: Value 'AES_999' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: \[/,
    )
    expectError(
      await rawRequest(server.url, { target: 'CreateKey', body: JSON.stringify({ Tags: [{ TagKey: 'k'.repeat(129), TagValue: 'v' }] }) }),
      'ValidationException',
      /at 'tags\.1\.member\.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128/,
    )
  })

  it('a body over the limit is refused without reading it whole', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(server.url)
      const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/', headers: { 'content-length': String(64 * 1024 * 1024), 'x-amz-target': 'TrentService.ListKeys' } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.write(Buffer.alloc(1024))
      // Never send the rest: the answer must come without it.
    })
    assert.equal(status, 413)
  })

  it('survives a burst of garbage and still serves', async () => {
    const bodies = ['', 'null', '"x"', '{"KeyId": null, "Plaintext": null}', '{"__proto__": {"x": 1}}', '\u0000\u0001', '{"EncryptionContext": 5}', '{"Limit": 1e309}']
    for (const target of ['Encrypt', 'Decrypt', 'ListKeys', 'GenerateDataKey', 'CreateKey', 'ReEncrypt']) {
      for (const body of bodies) {
        const res = await rawRequest(server.url, { target, body })
        assert.ok(res.status === 400 || res.status === 200, `${target} ${body} → ${res.status} ${JSON.stringify(res.body)}`)
      }
    }
    const ok = await rawRequest(server.url, { target: 'ListKeys' })
    assert.equal(ok.status, 200)
  })
})
