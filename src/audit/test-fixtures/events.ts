import { generateKeyPairSync, sign } from 'node:crypto'
import type { AuditEvent } from '../event.js'
import type { DigestSigner } from '../trail.js'

/** An Encrypt event numbered `n` (its key, request and event ids carry the number). */
export function sampleEvent(n: number, eventTime = '2026-01-01T00:00:00Z'): AuditEvent {
  return {
    eventVersion: '1.11',
    userIdentity: { type: 'Root', principalId: '111122223333', arn: 'arn:aws:iam::111122223333:root', accountId: '111122223333' },
    eventTime,
    eventSource: 'kms.amazonaws.com',
    eventName: 'Encrypt',
    awsRegion: 'us-east-1',
    sourceIPAddress: '127.0.0.1',
    requestParameters: { keyId: `key-${n}` },
    responseElements: null,
    requestID: `req-${n}`,
    eventID: `evt-${n}`,
    readOnly: true,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: '111122223333',
    eventCategory: 'Management',
  }
}

/** A digest signer with a fresh Ed25519 key held in memory, and its public key as PEM. */
export function testSigner(): DigestSigner & { pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return {
    publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
    pem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    sign: async (m) => new Uint8Array(sign(null, m, privateKey)),
  }
}
