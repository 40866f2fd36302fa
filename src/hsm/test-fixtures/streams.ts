import { PassThrough } from 'node:stream'
import type { StreamPair } from '../channel.js'

/** TEST HELPER: decides what to forward for each post-handshake frame (header included). */
export type FrameTap = (frame: Buffer, index: number) => Buffer[]

/**
 * TEST HELPER: forwards `from` to `to`, passing the first `handshakeBytes` through untouched and
 * then handing each whole frame to `tap`. End and destruction propagate.
 */
export function link(from: PassThrough, to: PassThrough, handshakeBytes = 0, tap?: FrameTap): void {
  let pending = Buffer.alloc(0)
  let passed = 0
  let index = 0
  from.on('data', (chunk: Buffer) => {
    if (!tap) {
      to.write(chunk)
      return
    }
    pending = Buffer.concat([pending, chunk])
    if (passed < handshakeBytes) {
      const n = Math.min(handshakeBytes - passed, pending.length)
      to.write(pending.subarray(0, n))
      pending = pending.subarray(n)
      passed += n
    }
    while (pending.length >= 4) {
      const length = pending.readUInt32BE(0)
      if (pending.length < 4 + length) break
      const frame = Buffer.from(pending.subarray(0, 4 + length))
      pending = pending.subarray(4 + length)
      for (const out of tap(frame, index++)) to.write(out)
    }
  })
  from.on('end', () => to.end())
  from.on('close', () => to.destroy())
  to.on('close', () => from.destroy())
}

/** Handshake bytes the client sends (msg1 + msg3) and the server sends (msg2). */
export const CLIENT_HANDSHAKE_BYTES = 72 + 32
export const SERVER_HANDSHAKE_BYTES = 96

/**
 * TEST HELPER: an in-memory connection. Each direction goes writer → [tap] → reader, so a test
 * can tamper with, replay, reorder or drop frames.
 */
export function pipePair(taps: { c2s?: FrameTap; s2c?: FrameTap } = {}): { client: StreamPair; server: StreamPair } {
  const c2sIn = new PassThrough()
  const c2sOut = new PassThrough()
  const s2cIn = new PassThrough()
  const s2cOut = new PassThrough()
  link(c2sIn, c2sOut, CLIENT_HANDSHAKE_BYTES, taps.c2s)
  link(s2cIn, s2cOut, SERVER_HANDSHAKE_BYTES, taps.s2c)
  return {
    client: { readable: s2cOut, writable: c2sIn },
    server: { readable: c2sOut, writable: s2cIn },
  }
}
