import { connect } from 'node:net'
import { KmsError } from '../core/errors.js'
import type { EncryptionContext } from '../core/types.js'
import { openChannel, type ChannelOptions, type ChannelStream, type SecureChannel } from './channel.js'
import type { AuditSignature, AuditSigningKey, DataKey, DataKeyPair, Hsm, ImportWrapping, ImportWrappingKey, KeyBinding, KeyMaterialRef, NewKeyMaterial } from './hsm.js'
import type { HsmListenAddress } from './hsm-server.js'
import {
  decodeResponse,
  encodeRequest,
  readMessageId,
  type HsmArgs,
  type HsmMethod,
  type HsmResult,
} from './protocol.js'

/** Options of {@link RemoteHsm}. */
export interface RemoteHsmOptions {
  /**
   * A call without an answer after this long fails with KMSInternalException (checked about once
   * a second, so the bound is coarse). Default 30 000; 0 disables.
   */
  callTimeoutMs?: number
}

/** Options of {@link RemoteHsm.connect} and {@link connectHsm}. */
export type ConnectHsmOptions = RemoteHsmOptions & Pick<ChannelOptions, 'handshakeTimeoutMs' | 'maxFrameBytes'>

interface Pending {
  method: HsmMethod
  resolve: (value: never) => void
  reject: (error: KmsError) => void
  deadline: number
}

const DEFAULT_CALL_TIMEOUT_MS = 30_000

/**
 * An {@link Hsm} on the far side of an open {@link SecureChannel}. Any number of calls may be in
 * flight on the one channel; each carries a request id and answers may come back in any order.
 * Requests made in the same event-loop turn leave together, a frame and a write per eight (the
 * channel coalesces them). When the channel dies every pending call fails with KMSInternalException, as do
 * all later calls.
 */
export class RemoteHsm implements Hsm {
  readonly #channel: SecureChannel
  readonly #pending = new Map<number, Pending>()
  readonly #timeoutMs: number
  readonly #sweeper: NodeJS.Timeout | undefined
  #nextId = 1

  /** Resolves once the channel is gone and every pending call has been rejected. */
  readonly closed: Promise<void>

  /** Takes over `channel` (which must not have a listener yet). */
  constructor(channel: SecureChannel, options: RemoteHsmOptions = {}) {
    this.#channel = channel
    this.#timeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS
    channel.listen(this.#onMessage)
    this.closed = channel.closed.then(() => this.#failAll())
    if (this.#timeoutMs > 0) {
      this.#sweeper = setInterval(this.#sweep, Math.min(1000, this.#timeoutMs)).unref()
    }
  }

  /** Runs the client handshake over `stream` and wraps the channel. */
  static async connect(stream: ChannelStream, psk: Uint8Array, options: ConnectHsmOptions = {}): Promise<RemoteHsm> {
    const channel = await openChannel(stream, {
      role: 'client',
      psk,
      ...(options.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: options.handshakeTimeoutMs } : {}),
      ...(options.maxFrameBytes !== undefined ? { maxFrameBytes: options.maxFrameBytes } : {}),
    })
    return new RemoteHsm(channel, options)
  }

  /** True while the channel is up. */
  get isOpen(): boolean {
    return this.#channel.isOpen
  }

  /** Number of calls waiting for an answer. */
  get pendingCalls(): number {
    return this.#pending.size
  }

  /** Drops the channel at once; pending calls fail with KMSInternalException. */
  abort(): void {
    this.#channel.abort(new Error('HSM client aborted'))
  }

  /** Closes the channel after sending what is queued; calls still waiting fail. */
  async close(): Promise<void> {
    this.#channel.close()
    await this.closed
  }

  initDomain(): Promise<Uint8Array> {
    return this.#call('initDomain', [])
  }

  loadDomain(sealedDomain: Uint8Array): Promise<void> {
    return this.#call('loadDomain', [sealedDomain])
  }

  generateKeyMaterial(binding: KeyBinding): Promise<NewKeyMaterial> {
    return this.#call('generateKeyMaterial', [binding])
  }

  generateWrappingKey(binding: KeyBinding, wrappingKeySpec: string): Promise<ImportWrappingKey> {
    return this.#call('generateWrappingKey', [binding, wrappingKeySpec])
  }

  importKeyMaterial(binding: KeyBinding, wrapping: ImportWrapping, encryptedKeyMaterial: Uint8Array): Promise<NewKeyMaterial> {
    return this.#call('importKeyMaterial', [binding, wrapping, encryptedKeyMaterial])
  }

  encrypt(key: KeyMaterialRef, plaintext: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    return this.#call('encrypt', [key, plaintext, context])
  }

  decrypt(key: KeyMaterialRef, blob: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    return this.#call('decrypt', [key, blob, context])
  }

  generateDataKey(
    key: KeyMaterialRef,
    numberOfBytes: number,
    context: EncryptionContext,
    withPlaintext: boolean,
  ): Promise<DataKey> {
    return this.#call('generateDataKey', [key, numberOfBytes, context, withPlaintext])
  }

  reEncrypt(
    source: KeyMaterialRef,
    blob: Uint8Array,
    sourceContext: EncryptionContext,
    destination: KeyMaterialRef,
    destinationContext: EncryptionContext,
  ): Promise<Uint8Array> {
    return this.#call('reEncrypt', [source, blob, sourceContext, destination, destinationContext])
  }

  getPublicKey(...args: HsmArgs<'getPublicKey'>): Promise<Uint8Array> {
    return this.#call('getPublicKey', args)
  }

  sign(...args: HsmArgs<'sign'>): Promise<Uint8Array> {
    return this.#call('sign', args)
  }

  verify(...args: HsmArgs<'verify'>): Promise<boolean> {
    return this.#call('verify', args)
  }

  encryptAsymmetric(...args: HsmArgs<'encryptAsymmetric'>): Promise<Uint8Array> {
    return this.#call('encryptAsymmetric', args)
  }

  decryptAsymmetric(...args: HsmArgs<'decryptAsymmetric'>): Promise<Uint8Array> {
    return this.#call('decryptAsymmetric', args)
  }

  reEncryptAsymmetric(...args: HsmArgs<'reEncryptAsymmetric'>): Promise<Uint8Array> {
    return this.#call('reEncryptAsymmetric', args)
  }

  generateMac(...args: HsmArgs<'generateMac'>): Promise<Uint8Array> {
    return this.#call('generateMac', args)
  }

  verifyMac(...args: HsmArgs<'verifyMac'>): Promise<boolean> {
    return this.#call('verifyMac', args)
  }

  deriveSharedSecret(...args: HsmArgs<'deriveSharedSecret'>): Promise<Uint8Array> {
    return this.#call('deriveSharedSecret', args)
  }

  generateDataKeyPair(...args: HsmArgs<'generateDataKeyPair'>): Promise<DataKeyPair> {
    return this.#call('generateDataKeyPair', args)
  }

  generateRandom(numberOfBytes: number): Promise<Uint8Array> {
    return this.#call('generateRandom', [numberOfBytes])
  }

  wrapSecret(accessKeyId: string, secret: Uint8Array): Promise<Uint8Array> {
    return this.#call('wrapSecret', [accessKeyId, secret])
  }

  deriveSigningKey(
    accessKeyId: string,
    wrappedSecret: Uint8Array,
    date: string,
    region: string,
    service: string,
  ): Promise<Uint8Array> {
    return this.#call('deriveSigningKey', [accessKeyId, wrappedSecret, date, region, service])
  }

  createAuditSigningKey(): Promise<AuditSigningKey> {
    return this.#call('createAuditSigningKey', [])
  }

  signAuditDigest(wrappedKey: Uint8Array, message: Uint8Array): Promise<AuditSignature> {
    return this.#call('signAuditDigest', [wrappedKey, message])
  }

  #call<M extends HsmMethod>(method: M, args: HsmArgs<M>): Promise<HsmResult<M>> {
    if (!this.#channel.isOpen) return Promise.reject(internalError())
    let id = this.#nextId
    while (this.#pending.has(id)) id = (id + 1) >>> 0
    this.#nextId = (id + 1) >>> 0
    let message: Uint8Array
    try {
      message = encodeRequest(id, method, args)
    } catch {
      return Promise.reject(internalError())
    }
    return new Promise<HsmResult<M>>((resolve, reject) => {
      const deadline = this.#timeoutMs > 0 ? Date.now() + this.#timeoutMs : Infinity
      this.#pending.set(id, { method, resolve: resolve as (value: never) => void, reject, deadline })
      try {
        this.#channel.send(message)
      } catch {
        this.#pending.delete(id)
        reject(internalError())
      }
    })
  }

  #onMessage = (message: Uint8Array): void => {
    const id = readMessageId(message)
    if (id === undefined) {
      this.#channel.abort(new Error('malformed HSM response'))
      return
    }
    const pending = this.#pending.get(id)
    // No entry: the call already timed out; its late answer is dropped.
    if (!pending) return
    this.#pending.delete(id)
    let result: unknown
    try {
      result = decodeResponse(message, pending.method)
    } catch (e) {
      pending.reject(e instanceof KmsError ? e : internalError())
      return
    }
    pending.resolve(result as never)
  }

  #sweep = (): void => {
    const now = Date.now()
    for (const [id, p] of this.#pending) {
      if (p.deadline <= now) {
        this.#pending.delete(id)
        p.reject(internalError())
      }
    }
  }

  #failAll(): void {
    clearInterval(this.#sweeper)
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const p of pending) p.reject(internalError())
  }
}

/** Connects to a standalone HSM (`trent hsm --listen`) and runs the client handshake. */
export async function connectHsm(
  address: HsmListenAddress,
  psk: Uint8Array,
  options: ConnectHsmOptions = {},
): Promise<RemoteHsm> {
  const socket = 'socketPath' in address ? connect(address.socketPath) : connect(address.port, address.host)
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => {
      socket.off('error', reject)
      resolve()
    })
    socket.once('error', reject)
  })
  socket.setNoDelay(true)
  return RemoteHsm.connect(socket, psk, options)
}

function internalError(): KmsError {
  return new KmsError('KMSInternalException')
}
