import type { KeyRecord } from '../../store/store.js'
import type { Caller } from '../deps.js'

/**
 * The tag that marks a key as a canary (any value). `trent:` is not reserved by AWS, so the tag is
 * set like any other (CreateKey Tags, TagResource) and `trent admin canary add` sets it too: one
 * mechanism, visible in ListResourceTags and in every backend without a store change.
 */
export const CANARY_TAG = 'trent:canary'

/**
 * Operations that use a key cryptographically (by X-Amz-Target name): touching a canary key with
 * one of these raises an alert, whether it was allowed or not. Names the server does not serve yet
 * simply never match.
 */
export const CRYPTO_OPERATIONS: ReadonlySet<string> = new Set([
  'Encrypt',
  'Decrypt',
  'ReEncrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'Sign',
  'Verify',
  'GenerateMac',
  'VerifyMac',
  'DeriveSharedSecret',
])

/** The input members that carry an encryption context. */
const CONTEXT_MEMBERS = ['EncryptionContext', 'SourceEncryptionContext', 'DestinationEncryptionContext'] as const

/** Why an alert was raised. */
export type CanaryAlertType = 'canary-key' | 'canary-context'

/** One canary alert as logged and posted to webhooks: who touched what, never any plaintext or ciphertext. */
export interface CanaryAlert {
  type: CanaryAlertType
  /** ISO 8601. */
  time: string
  operation: string
  /** The canary key (canary-key), or the first key the request resolved (canary-context), if any. */
  keyArn?: string
  principalArn?: string
  sourceIp?: string
  requestId: string
  /** `allowed` when the operation succeeded, `denied` for AccessDeniedException, else `failed`. */
  outcome: 'allowed' | 'denied' | 'failed'
  errorCode?: string
  /** canary-context: the context key whose configured canary value the request carried. */
  contextKey?: string
  contextValue?: string
}

/** A configured canary encryption-context pair. */
export interface CanaryContext {
  key: string
  value: string
}

/** Parses `key=value` (the value may contain `=`); undefined when there is no key. */
export function parseCanaryContext(text: string): CanaryContext | undefined {
  const i = text.indexOf('=')
  if (i < 1) return undefined
  return { key: text.slice(0, i), value: text.slice(i + 1) }
}

/** True for a key that carries the canary tag. */
export function isCanaryKey(key: KeyRecord): boolean {
  for (const tag of key.tags) if (tag.TagKey === CANARY_TAG) return true
  return false
}

/** What {@link detectCanaries} needs to know about one finished request. */
export interface CanaryRequest {
  operation: string
  requestId: string
  caller: Caller
  input: Readonly<Record<string, unknown>> | undefined
  errorCode: string | undefined
}

/**
 * The alerts one request raises: one per canary key it resolved in a cryptographic operation, and
 * one per configured canary context pair it carried. `contexts` maps context key → canary values.
 */
export function detectCanaries(request: CanaryRequest, contexts: ReadonlyMap<string, ReadonlySet<string>>, now: () => Date): CanaryAlert[] {
  const { caller, input } = request
  const keys = caller.trace?.keys ?? []
  let alerts: CanaryAlert[] | undefined
  const raise = (alert: Omit<CanaryAlert, 'time' | 'operation' | 'principalArn' | 'sourceIp' | 'requestId' | 'outcome' | 'errorCode'>): void => {
    ;(alerts ??= []).push({
      ...alert,
      time: now().toISOString(),
      operation: request.operation,
      principalArn: caller.principalArn,
      ...(caller.sourceIp !== undefined ? { sourceIp: caller.sourceIp } : {}),
      requestId: request.requestId,
      outcome: request.errorCode === undefined ? 'allowed' : request.errorCode === 'AccessDeniedException' ? 'denied' : 'failed',
      ...(request.errorCode !== undefined ? { errorCode: request.errorCode } : {}),
    })
  }
  if (CRYPTO_OPERATIONS.has(request.operation)) {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!
      // A key resolved twice (ReEncrypt within one key) is one use.
      if (isCanaryKey(key) && keys.findIndex((k) => k.arn === key.arn) === i) raise({ type: 'canary-key', keyArn: key.arn })
    }
  }
  if (contexts.size > 0 && input !== undefined) {
    for (const member of CONTEXT_MEMBERS) {
      const context = input[member]
      if (typeof context !== 'object' || context === null) continue
      for (const [k, v] of Object.entries(context)) {
        if (typeof v === 'string' && contexts.get(k)?.has(v)) {
          raise({ type: 'canary-context', ...(keys[0] ? { keyArn: keys[0].arn } : {}), contextKey: k, contextValue: v })
        }
      }
    }
  }
  return alerts ?? []
}
