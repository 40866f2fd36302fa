import type { Readable, Writable } from 'node:stream'
import { zeroize } from '../core/secret.js'
import { PSK_BYTES, readExactly } from './channel.js'
import type { Hsm } from './hsm.js'
import { serveHsm, type ServeHsmOptions } from './hsm-server.js'

/** Options of {@link runHsmChild}. */
export interface HsmChildOptions extends ServeHsmOptions {
  /** Carries the 32-byte channel key, then the client's side of the channel. */
  stdin: Readable
  /** Carries the server's side of the channel. Nothing else may write to it. */
  stdout: Writable
  /** Builds the engine (self-tests included) once the channel key has been read. */
  createHsm: () => Hsm | Promise<Hsm>
  /**
   * Exit the process (code 0) once the session ends, so a HSM whose parent is gone does not linger
   * holding keys. Default: true when `stdin` is `process.stdin`.
   */
  exitOnEnd?: boolean
}

/**
 * The entry of the HSM child process (`trent hsm --stdio`): reads the channel key from the first
 * 32 bytes of stdin, builds the Hsm, serves it over stdin/stdout, and when stdin ends (the parent
 * closed or died) closes the Hsm and returns, or exits. Rejects if the key cannot be read, the Hsm
 * cannot be built, or the handshake fails; the caller should then exit non-zero.
 */
export async function runHsmChild(options: HsmChildOptions): Promise<void> {
  const { stdin, stdout, createHsm } = options
  const psk = await readExactly(stdin, PSK_BYTES)
  let hsm: Hsm | undefined
  try {
    hsm = await createHsm()
    const channel = await serveHsm({ readable: stdin, writable: stdout }, hsm, psk, options)
    zeroize(psk)
    await channel.closed
  } finally {
    zeroize(psk)
    await hsm?.close()
  }
  if (options.exitOnEnd ?? stdin === process.stdin) process.exit(0)
}
