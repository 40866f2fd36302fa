import { createHmac } from 'node:crypto'
import { KmsError } from '../core/errors.js'
import { zeroize } from '../core/secret.js'

const SHA256_BYTES = 32

/** Largest output whose length in bits, `[L]_32`, fits the 32-bit field of the fixed input. */
export const KDF_MAX_OUTPUT_BYTES = Math.floor(0xffffffff / 8)

/** HMAC-SHA256 of `data` under `key`, returned in a fresh Uint8Array (the Buffer node returns is zeroised). */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  const digest = createHmac('sha256', key).update(data).digest()
  const out = new Uint8Array(digest)
  zeroize(digest)
  return out
}

/**
 * NIST SP 800-108 KDF in counter mode with HMAC-SHA256 and the counter before the fixed input
 * (CAVP `[CTRLOCATION=BEFORE_FIXED] [RLEN=32_BITS]`): `K(i) = HMAC(key, [i]_32 || fixedInput)` for
 * i = 1, 2, ..., concatenated and cut to `outputLength` bytes.
 *
 * This is the low-level form that takes the whole fixed input, as the CAVP vectors give it. Use
 * {@link kdfCtrHmacSha256} for the label/context layout.
 */
export function kdfCtrHmacSha256Raw(
  key: Uint8Array,
  fixedInput: Uint8Array,
  outputLength: number,
): Uint8Array {
  /* Precondition: The KDF key is not empty. */
  if (key.length === 0) throw new KmsError('KMSInternalException', 'KDF key must not be empty')
  /* Precondition: The KDF output length is a positive whole number of bytes whose bit length fits in 32 bits. */
  if (!Number.isInteger(outputLength) || outputLength <= 0 || outputLength > KDF_MAX_OUTPUT_BYTES) {
    throw new KmsError('KMSInternalException', `KDF output length ${outputLength} is out of range`)
  }
  const out = new Uint8Array(outputLength)
  const counter = new Uint8Array(4)
  const counterView = new DataView(counter.buffer)
  for (let i = 1, offset = 0; offset < outputLength; i++, offset += SHA256_BYTES) {
    counterView.setUint32(0, i)
    const block = createHmac('sha256', key).update(counter).update(fixedInput).digest()
    out.set(block.subarray(0, Math.min(SHA256_BYTES, outputLength - offset)), offset)
    zeroize(block)
  }
  return out
}

/**
 * SP 800-108 counter-mode HMAC-SHA256 with the fixed input laid out as AWS's
 * `@aws-crypto/kdf-ctr-mode-node` does: `label || 0x00 || context || [L]_32`, where L is the output
 * length in bits, big-endian.
 */
export function kdfCtrHmacSha256(
  key: Uint8Array,
  label: Uint8Array,
  context: Uint8Array,
  outputLength: number,
): Uint8Array {
  /* Precondition: The KDF output length is a positive whole number of bytes whose bit length fits in 32 bits. */
  if (!Number.isInteger(outputLength) || outputLength <= 0 || outputLength > KDF_MAX_OUTPUT_BYTES) {
    throw new KmsError('KMSInternalException', `KDF output length ${outputLength} is out of range`)
  }
  const fixedInput = new Uint8Array(label.length + 1 + context.length + 4)
  fixedInput.set(label, 0)
  fixedInput[label.length] = 0x00
  fixedInput.set(context, label.length + 1)
  new DataView(fixedInput.buffer).setUint32(label.length + 1 + context.length, outputLength * 8)
  return kdfCtrHmacSha256Raw(key, fixedInput, outputLength)
}
