import { chmodSync, lstatSync, unlinkSync } from 'node:fs'
import { connect, createServer, isIP, type AddressInfo, type Server, type Socket } from 'node:net'
import { KmsError } from '../core/errors.js'
import { zeroize } from '../core/secret.js'
import { openChannel, type ChannelStream, type SecureChannel } from './channel.js'
import type { Hsm } from './hsm.js'
import {
  decodeRequest,
  encodeError,
  encodeResult,
  readMessageId,
  type DecodedRequest,
  type HsmMethod,
  type HsmResult,
} from './protocol.js'

/** Options of {@link serveHsm}. */
export interface ServeHsmOptions {
  /** Handshake timeout; see {@link openChannel}. */
  handshakeTimeoutMs?: number
  /** Frame size cap; see {@link openChannel}. */
  maxFrameBytes?: number
  /**
   * Called with any non-KmsError the Hsm throws (the client only sees KMSInternalException). Must
   * not log arguments or results: they may hold key material.
   */
  onInternalError?: (error: unknown) => void
}

/**
 * Runs the server side of the channel over `stream` and serves `hsm` on it. Resolves with the open
 * channel once the client has proved the channel key; requests are then dispatched concurrently
 * (responses go out as each call settles, matched by request id) until `channel.closed`. Rejects,
 * having served nothing, when the handshake fails. `hsm` is not closed when the channel closes.
 */
export async function serveHsm(
  stream: ChannelStream,
  hsm: Hsm,
  psk: Uint8Array,
  options: ServeHsmOptions = {},
): Promise<SecureChannel> {
  const channel = await openChannel(stream, {
    role: 'server',
    psk,
    ...(options.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: options.handshakeTimeoutMs } : {}),
    ...(options.maxFrameBytes !== undefined ? { maxFrameBytes: options.maxFrameBytes } : {}),
  })
  channel.listen((message) => dispatch(channel, hsm, message, options))
  return channel
}

function dispatch(channel: SecureChannel, hsm: Hsm, message: Uint8Array, options: ServeHsmOptions): void {
  let request: DecodedRequest
  try {
    request = decodeRequest(message)
  } catch (e) {
    const id = readMessageId(message)
    // Without an id no answer can be matched to a caller: the peer is broken, drop it.
    if (id === undefined) channel.abort(new Error('malformed request'))
    else channel.send(encodeError(id, e))
    return
  }
  invoke(hsm, request).then(
    (result) => {
      let response: Uint8Array
      try {
        response = encodeResult(request.id, request.method, result as HsmResult<HsmMethod>)
      } catch (e) {
        options.onInternalError?.(e)
        response = encodeError(request.id, e)
      } finally {
        zeroizeSecrets(request, result)
      }
      try {
        channel.send(response)
      } catch (e) {
        // A result too large for one frame: the caller gets an error instead of silence.
        options.onInternalError?.(e)
        channel.send(encodeError(request.id, e))
      }
    },
    (e: unknown) => {
      zeroizeSecrets(request, undefined)
      if (!(e instanceof KmsError)) options.onInternalError?.(e)
      channel.send(encodeError(request.id, e))
    },
  )
}

function invoke(hsm: Hsm, request: DecodedRequest): Promise<unknown> {
  try {
    const method = hsm[request.method] as (...args: unknown[]) => Promise<unknown>
    return Promise.resolve(method.apply(hsm, request.args))
  } catch (e) {
    return Promise.reject(e)
  }
}

/**
 * Our copies of secret arguments and results are zeroised once the response is encoded (the
 * encoded message itself is zeroised by the channel after encryption). The Hsm contract makes the
 * caller the owner of returned plaintexts, so this does not reach into the engine's state.
 */
function zeroizeSecrets(request: DecodedRequest, result: unknown): void {
  switch (request.method) {
    case 'encrypt':
    case 'encryptAsymmetric':
      zeroize(request.args[1])
      break
    case 'wrapSecret':
      zeroize(request.args[1])
      break
    case 'decrypt':
    case 'decryptAsymmetric':
    case 'deriveSharedSecret':
    case 'deriveSigningKey':
    case 'generateRandom':
      if (result instanceof Uint8Array) zeroize(result)
      break
    case 'generateDataKey':
      zeroize((result as { plaintext?: Uint8Array } | undefined)?.plaintext)
      break
    case 'generateDataKeyPair':
      zeroize((result as { privateKeyPlaintext?: Uint8Array } | undefined)?.privateKeyPlaintext)
      break
    default:
      break
  }
}

/** Where a standalone HSM listens: a unix socket (created mode 0600) or a loopback TCP port. */
export type HsmListenAddress = { socketPath: string } | { host: string; port: number }

/** Options of {@link listenHsm}. */
export type ListenHsmOptions = HsmListenAddress &
  ServeHsmOptions & {
    hsm: Hsm
    /** The 32-byte channel key every client must prove. */
    psk: Uint8Array
    /** Called when a connection is refused (failed handshake); for logging only. */
    onRefused?: (error: Error) => void
  }

/** A running standalone HSM listener. */
export interface HsmListener {
  readonly server: Server
  /** The socket path, or the bound TCP address (useful with port 0). */
  readonly address: string | AddressInfo
  /** Stops accepting, closes every session and removes the socket file. Does not close the Hsm. */
  close(): Promise<void>
}

/**
 * Serves `hsm` to every client that proves `psk`, for `trent hsm --listen`. TCP is allowed on
 * loopback addresses only: the channel authenticates, but the HSM is not meant to be a network
 * service.
 */
export async function listenHsm(options: ListenHsmOptions): Promise<HsmListener> {
  const { hsm, psk } = options
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.setNoDelay(true)
    serveHsm(socket, hsm, psk, options).catch((e: unknown) => {
      socket.destroy()
      options.onRefused?.(e instanceof Error ? e : new Error(String(e)))
    })
  })

  let address: string | AddressInfo
  if ('socketPath' in options) {
    const path = options.socketPath
    await removeStaleSocket(path)
    // umask, so the socket is never reachable by others, not even between bind and chmod.
    const previous = process.umask(0o177)
    try {
      await listen(server, () => server.listen(path))
    } finally {
      process.umask(previous)
    }
    chmodSync(path, 0o600)
    address = path
  } else {
    if (!isLoopback(options.host)) throw new Error(`the HSM listens on loopback only, not ${options.host}`)
    await listen(server, () => server.listen(options.port, options.host))
    address = server.address() as AddressInfo
  }

  return {
    server,
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      }),
  }
}

function listen(server: Server, start: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.once('listening', () => {
      server.off('error', reject)
      resolve()
    })
    start()
  })
}

/** Removes a socket file left by a dead HSM; refuses to touch a live socket or any other file. */
async function removeStaleSocket(path: string): Promise<void> {
  let stat
  try {
    stat = lstatSync(path)
  } catch {
    return
  }
  if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket`)
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path)
    probe.once('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.once('error', () => resolve(false))
  })
  if (live) throw new Error(`an HSM is already listening on ${path}`)
  unlinkSync(path)
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  const v = isIP(host)
  if (v === 4) return host.startsWith('127.')
  if (v === 6) return host === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(host) || host === '::ffff:127.0.0.1'
  return false
}
