import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { connect, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { connectHsm } from './hsm-client.js'
import { listenHsm } from './hsm-server.js'
import { FakeHsm } from './test-fixtures/fake-hsm.js'

const PSK = new Uint8Array(randomBytes(32))
const dir = mkdtempSync(join(tmpdir(), 'trent-hsm-'))
after(() => rmSync(dir, { recursive: true, force: true }))

describe('listenHsm', () => {
  it('serves on a unix socket created with mode 0600', async () => {
    const socketPath = join(dir, 'hsm.sock')
    const fake = new FakeHsm()
    const listener = await listenHsm({ socketPath, hsm: fake, psk: PSK })
    assert.equal(statSync(socketPath).mode & 0o777, 0o600)
    const remote = await connectHsm({ socketPath }, PSK)
    assert.deepEqual(await remote.generateRandom(3), new Uint8Array([3, 3, 3]))
    // A second client gets its own session against the same engine.
    const second = await connectHsm({ socketPath }, PSK)
    assert.deepEqual(await second.generateRandom(2), new Uint8Array([2, 2]))
    await listener.close()
    await remote.closed
    await second.closed
    assert.equal(existsSync(socketPath), false)
    assert.equal(fake.closed, false)
  })

  it('refuses a client with the wrong PSK and serves it nothing', async () => {
    const socketPath = join(dir, 'refuse.sock')
    const fake = new FakeHsm()
    const refused: Error[] = []
    const listener = await listenHsm({ socketPath, hsm: fake, psk: PSK, onRefused: (e) => refused.push(e) })
    await assert.rejects(connectHsm({ socketPath }, new Uint8Array(randomBytes(32))), /failed to prove the channel key/)
    while (refused.length === 0) await new Promise((r) => setTimeout(r, 5))
    assert.equal(fake.calls, 0)
    await listener.close()
  })

  it('serves TCP on loopback and refuses other addresses', async () => {
    const listener = await listenHsm({ host: '127.0.0.1', port: 0, hsm: new FakeHsm(), psk: PSK })
    const { port } = listener.address as AddressInfo
    const remote = await connectHsm({ host: '127.0.0.1', port }, PSK)
    assert.deepEqual(await remote.generateRandom(1), new Uint8Array([1]))
    await remote.close()
    await listener.close()
    await assert.rejects(listenHsm({ host: '0.0.0.0', port: 0, hsm: new FakeHsm(), psk: PSK }), /loopback only/)
    await assert.rejects(listenHsm({ host: '10.0.0.1', port: 0, hsm: new FakeHsm(), psk: PSK }), /loopback only/)
  })

  it('replaces a stale socket file but not a live socket or a regular file', async () => {
    const stale = join(dir, 'stale.sock')
    // A process that dies without cleaning up leaves its socket file behind.
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`])
    assert.equal(existsSync(stale), true)
    const listener = await listenHsm({ socketPath: stale, hsm: new FakeHsm(), psk: PSK })
    await assert.rejects(listenHsm({ socketPath: stale, hsm: new FakeHsm(), psk: PSK }), /already listening/)
    await listener.close()

    const file = join(dir, 'not-a-socket')
    writeFileSync(file, 'x')
    await assert.rejects(listenHsm({ socketPath: file, hsm: new FakeHsm(), psk: PSK }), /not a socket/)
  })

  it('drops a connection that never completes the handshake', async () => {
    const socketPath = join(dir, 'silent.sock')
    const refused: Error[] = []
    const listener = await listenHsm({ socketPath, hsm: new FakeHsm(), psk: PSK, handshakeTimeoutMs: 100, onRefused: (e) => refused.push(e) })
    const socket = connect(socketPath)
    await new Promise((r) => socket.on('close', r))
    assert.match(String(refused[0]), /timed out/)
    await listener.close()
  })
})
