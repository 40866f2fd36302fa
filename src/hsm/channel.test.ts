import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import { describe, it } from 'node:test'
import { FRAME_MESSAGES, openChannel, readExactly, type SecureChannel, type StreamPair } from './channel.js'
import { pipePair, type FrameTap } from './test-fixtures/streams.js'

const PSK = new Uint8Array(randomBytes(32))
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const str = (b: Uint8Array): string => new TextDecoder().decode(b)
const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

async function connect(
  taps: { c2s?: FrameTap; s2c?: FrameTap } = {},
  opts: { clientPsk?: Uint8Array; serverPsk?: Uint8Array; serverMax?: number; clientMax?: number } = {},
): Promise<{ client: SecureChannel; server: SecureChannel; received: string[]; pair: { client: StreamPair; server: StreamPair } }> {
  const pair = pipePair(taps)
  const [client, server] = await Promise.all([
    openChannel(pair.client, { role: 'client', psk: opts.clientPsk ?? PSK, ...(opts.clientMax ? { maxFrameBytes: opts.clientMax } : {}) }),
    openChannel(pair.server, { role: 'server', psk: opts.serverPsk ?? PSK, ...(opts.serverMax ? { maxFrameBytes: opts.serverMax } : {}) }),
  ])
  const received: string[] = []
  server.listen((m) => received.push(str(m)))
  return { client, server, received, pair }
}

/** Sends each message in its own event-loop turn, so each becomes its own frame. */
async function sendFrames(channel: SecureChannel, messages: string[]): Promise<void> {
  for (const m of messages) {
    channel.send(text(m))
    await tick()
  }
}

describe('channel handshake', () => {
  it('establishes a channel with the same PSK and carries messages both ways', async () => {
    const { client, server, received } = await connect()
    const back: string[] = []
    client.listen((m) => back.push(str(m)))
    server.listen((m) => {
      received.push(str(m))
      server.send(text(`echo ${str(m)}`))
    })
    client.send(text('hello'))
    client.send(text(''))
    client.send(text('world'))
    while (back.length < 3) await tick()
    assert.deepEqual(received, ['hello', '', 'world'])
    assert.deepEqual(back, ['echo hello', 'echo ', 'echo world'])
    assert.equal(client.isOpen, true)
    client.close()
    assert.equal(await client.closed, undefined)
    assert.match(String(await server.closed), /closed by peer/)
  })

  it('refuses a peer with a different PSK, on both sides', async () => {
    const pair = pipePair()
    const other = new Uint8Array(randomBytes(32))
    const results = await Promise.allSettled([
      openChannel(pair.client, { role: 'client', psk: PSK }),
      openChannel(pair.server, { role: 'server', psk: other }),
    ])
    assert.equal(results[0].status, 'rejected')
    assert.equal(results[1].status, 'rejected')
    assert.match(String((results[0] as PromiseRejectedResult).reason), /failed to prove the channel key/)
  })

  it('a client without the PSK is refused and nothing it sends is delivered', async () => {
    const pair = pipePair()
    let delivered = 0
    const server = openChannel(pair.server, { role: 'server', psk: PSK })
    server.then((ch) => ch.listen(() => delivered++), () => {})
    // A rogue client: well-formed msg1, a made-up proof, then something shaped like a frame.
    const { publicKey } = generateKeyPairSync('x25519')
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12)
    pair.client.writable.write(Buffer.concat([Buffer.from('TRENTCH1'), raw, randomBytes(32)]))
    pair.client.writable.write(randomBytes(32))
    pair.client.writable.write(Buffer.concat([Buffer.from([0, 0, 0, 20]), randomBytes(20)]))
    await assert.rejects(server, /failed to prove the channel key/)
    assert.equal(delivered, 0)
    assert.equal(pair.server.readable.destroyed, true)
  })

  it('a server without the PSK is refused by the client before it sends anything', async () => {
    const pair = pipePair()
    const written: Buffer[] = []
    pair.server.readable.on('data', (c: Buffer) => written.push(c))
    const client = openChannel(pair.client, { role: 'client', psk: PSK })
    // The impostor answers with a well-formed msg2 and a proof it cannot have computed.
    while (Buffer.concat(written).length < 72) await tick()
    pair.server.writable.write(randomBytes(96))
    await assert.rejects(client, /failed to prove the channel key/)
    await tick()
    // msg1 only: no proof of its own, no frames.
    assert.equal(Buffer.concat(written).length, 72)
  })

  it('refuses a peer speaking another protocol', async () => {
    const pair = pipePair()
    const server = openChannel(pair.server, { role: 'server', psk: PSK })
    pair.client.writable.write(Buffer.alloc(72, 0x41))
    await assert.rejects(server, /not a Trent HSM channel/)
  })

  it('times out a silent peer', async () => {
    const pair = pipePair()
    const started = Date.now()
    await assert.rejects(openChannel(pair.server, { role: 'server', psk: PSK, handshakeTimeoutMs: 100 }), /timed out/)
    assert.ok(Date.now() - started < 2000)
  })

  it('rejects a PSK of the wrong length', () => {
    assert.throws(() => openChannel(pipePair().client, { role: 'client', psk: new Uint8Array(16) }), RangeError)
  })
})

describe('channel frames', () => {
  it(`sends a turn's messages in frames of ${FRAME_MESSAGES}, each as soon as it is full, and the rest at the turn's end`, async () => {
    let frames = 0
    const { client, received, pair } = await connect({
      c2s: (f) => {
        frames++
        return [f]
      },
    })
    const writable = pair.client.writable as unknown as { write: (...args: unknown[]) => boolean }
    const write = writable.write.bind(writable)
    let writes = 0
    writable.write = (...args) => {
      writes++
      return write(...args)
    }
    for (let i = 0; i < FRAME_MESSAGES - 1; i++) client.send(text(`m${i}`))
    assert.equal(writes, 0)
    client.send(text(`m${FRAME_MESSAGES - 1}`))
    assert.ok(writes > 0, 'a full frame waited for the end of the turn')
    for (let i = FRAME_MESSAGES; i < 500; i++) client.send(text(`m${i}`))
    while (received.length < 500) await tick()
    assert.equal(frames, Math.ceil(500 / FRAME_MESSAGES))
    assert.deepEqual(received, Array.from({ length: 500 }, (_, i) => `m${i}`))
  })

  it('splits a large batch into frames within the cap', async () => {
    let frames = 0
    const { client, received } = await connect(
      { c2s: (f) => (frames++, [f]) },
      { clientMax: 4096, serverMax: 4096 },
    )
    for (let i = 0; i < 10; i++) client.send(new Uint8Array(1000).fill(65 + i))
    while (received.length < 10) await tick()
    // 1004 bytes a record: four records fit in 4096.
    assert.equal(frames, 3)
    assert.deepEqual(received.map((m) => m.length), Array(10).fill(1000))
  })

  it('zeroises a message once it is encrypted', async () => {
    const { client, received } = await connect()
    const secret = text('secret')
    client.send(secret)
    while (received.length < 1) await tick()
    assert.deepEqual(received, ['secret'])
    assert.deepEqual([...secret], [0, 0, 0, 0, 0, 0])
  })

  it('a tampered frame kills the channel', async () => {
    const { client, server, received } = await connect({
      c2s: (f, i) => {
        if (i === 1) f[f.length - 20]! ^= 1
        return [f]
      },
    })
    await sendFrames(client, ['a', 'b', 'c'])
    assert.match(String(await server.closed), /failed authentication/)
    assert.deepEqual(received, ['a'])
    assert.match(String(await client.closed), /closed/)
    assert.equal(client.send(text('d')), false)
  })

  it('a replayed frame kills the channel', async () => {
    const { client, server, received } = await connect({ c2s: (f, i) => (i === 0 ? [f, f] : [f]) })
    await sendFrames(client, ['a', 'b'])
    assert.match(String(await server.closed), /failed authentication/)
    assert.deepEqual(received, ['a'])
  })

  it('reordered frames kill the channel', async () => {
    let held: Buffer | undefined
    const { client, server, received } = await connect({
      c2s: (f, i) => {
        if (i === 0) {
          held = f
          return []
        }
        return i === 1 ? [f, held!] : [f]
      },
    })
    await sendFrames(client, ['a', 'b'])
    assert.match(String(await server.closed), /failed authentication/)
    assert.deepEqual(received, [])
  })

  it('a dropped frame kills the channel', async () => {
    const { client, server, received } = await connect({ c2s: (f, i) => (i === 1 ? [] : [f]) })
    await sendFrames(client, ['a', 'b', 'c'])
    assert.match(String(await server.closed), /failed authentication/)
    assert.deepEqual(received, ['a'])
  })

  it('a frame reflected back to its sender does not verify (one key per direction)', async () => {
    const sent: Buffer[] = []
    const { client, received, pair } = await connect({ c2s: (f) => (sent.push(f), [f]) })
    client.listen(() => {})
    await sendFrames(client, ['a'])
    while (received.length < 1) await tick()
    // Same counter (0) on the client's receive side, but the other direction's key.
    ;(pair.client.readable as PassThrough).write(sent[0]!)
    assert.match(String(await client.closed), /failed authentication/)
  })

  it('refuses an oversized frame from its header alone', async () => {
    const { client, server, received } = await connect(
      // Forward only the 4-byte header of the first frame: the body never arrives.
      { c2s: (f, i) => (i === 0 ? [f.subarray(0, 4)] : [f]) },
      { serverMax: 1024, clientMax: 1 << 20 },
    )
    client.send(new Uint8Array(4096))
    assert.match(String(await server.closed), /out of bounds/)
    assert.deepEqual(received, [])
  })

  it('refuses a frame header claiming 4 GiB', async () => {
    const { server, pair } = await connect({ c2s: (f) => [f] })
    // Written below the tap: a raw header after the handshake.
    ;(pair.server.readable as PassThrough).write(Buffer.from([0xff, 0xff, 0xff, 0xff]))
    assert.match(String(await server.closed), /out of bounds/)
  })

  it('will not send a message larger than the frame cap', async () => {
    const { client } = await connect({}, { clientMax: 1024, serverMax: 1024 })
    assert.throws(() => client.send(new Uint8Array(1021)), RangeError)
    assert.equal(client.send(new Uint8Array(1020)), true)
  })

  it('holds frames that arrive before listen() and delivers them in order', async () => {
    const pair = pipePair()
    const [client, server] = await Promise.all([
      openChannel(pair.client, { role: 'client', psk: PSK }),
      openChannel(pair.server, { role: 'server', psk: PSK }),
    ])
    await sendFrames(client, ['x', 'y'])
    await new Promise((r) => setTimeout(r, 20))
    const got: string[] = []
    server.listen((m) => got.push(str(m)))
    while (got.length < 2) await tick()
    assert.deepEqual(got, ['x', 'y'])
  })

  it('close() flushes what is queued before ending', async () => {
    const { client, server, received } = await connect()
    client.send(text('last words'))
    client.close()
    await server.closed
    assert.deepEqual(received, ['last words'])
  })
})

describe('readExactly', () => {
  it('reads a prefix and leaves the rest in the stream', async () => {
    const s = new PassThrough()
    s.write(Buffer.from('0123456789'))
    const head = await readExactly(s, 4)
    assert.equal(str(head), '0123')
    const rest: Buffer[] = []
    s.on('data', (c: Buffer) => rest.push(c))
    s.end()
    await new Promise((r) => s.on('end', r))
    assert.equal(Buffer.concat(rest).toString(), '456789')
  })

  it('rejects when the stream ends first', async () => {
    const s = new PassThrough()
    s.end(Buffer.from('01'))
    await assert.rejects(readExactly(s, 4), /ended/)
  })
})

describe('channel streams', () => {
  it('fails at once over a stream that is already closed', async () => {
    const pair = pipePair()
    pair.client.readable.destroy()
    await assert.rejects(openChannel(pair.client, { role: 'client', psk: PSK }), /already closed/)
  })
})
