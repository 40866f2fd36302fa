import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import { describe, it } from 'node:test'
import { RemoteHsm } from './hsm-client.js'
import { runHsmChild } from './hsm-child.js'
import { FakeHsm } from './test-fixtures/fake-hsm.js'

describe('runHsmChild', () => {
  it('reads the PSK from stdin, serves, and closes the engine when stdin ends', async () => {
    const stdin = new PassThrough()
    const stdout = new PassThrough()
    const fake = new FakeHsm()
    const psk = new Uint8Array(randomBytes(32))
    const child = runHsmChild({ stdin, stdout, createHsm: async () => fake, exitOnEnd: false })
    // A copy: the child zeroises the bytes it read, and an in-memory stream shares them.
    stdin.write(Buffer.from(psk))
    const remote = await RemoteHsm.connect({ readable: stdout, writable: stdin }, psk)
    assert.deepEqual(await remote.generateRandom(2), new Uint8Array([2, 2]))
    await remote.close()
    await child
    assert.equal(fake.closed, true)
  })

  it('fails when stdin ends before the PSK', async () => {
    const stdin = new PassThrough()
    stdin.end(Buffer.alloc(10))
    let built = false
    await assert.rejects(
      runHsmChild({ stdin, stdout: new PassThrough(), createHsm: () => ((built = true), new FakeHsm()), exitOnEnd: false }),
      /ended before 32 bytes/,
    )
    assert.equal(built, false)
  })

  it('fails, writing nothing, when the engine cannot be built', async () => {
    const stdin = new PassThrough()
    const stdout = new PassThrough()
    const written: Buffer[] = []
    stdout.on('data', (c: Buffer) => written.push(c))
    stdin.write(randomBytes(32))
    await assert.rejects(
      runHsmChild({ stdin, stdout, exitOnEnd: false, createHsm: () => Promise.reject(new Error('self-test failed')) }),
      /self-test failed/,
    )
    assert.equal(written.length, 0)
  })

  it('refuses a parent that does not hold the PSK it wrote', async () => {
    const stdin = new PassThrough()
    const stdout = new PassThrough()
    const fake = new FakeHsm()
    const child = runHsmChild({ stdin, stdout, createHsm: () => fake, exitOnEnd: false })
    stdin.write(randomBytes(32))
    await assert.rejects(RemoteHsm.connect({ readable: stdout, writable: stdin }, new Uint8Array(randomBytes(32))))
    await assert.rejects(child)
    assert.equal(fake.calls, 0)
    assert.equal(fake.closed, true)
  })
})
