import { KmsError } from '../core/errors.js'

/** AWS's key policy size quota in bytes. */
export const MAX_POLICY_BYTES = 32768

/** The policy AWS gives a key created without one: the account root may do everything. */
export function defaultKeyPolicy(partition: string, accountId: string): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:${partition}:iam::${accountId}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    },
    null,
    2,
  )
}

/**
 * Checks that a key policy is a JSON document of the right size. The full grammar and the
 * lockout safety check belong to the authorisation layer; this is the part storage depends on.
 */
export function checkKeyPolicy(policy: string): void {
  if (Buffer.byteLength(policy, 'utf8') > MAX_POLICY_BYTES) throw new KmsError('LimitExceededException', 'Policy exceeds the maximum allowed size of 32768 bytes')
  let doc: unknown
  try {
    doc = JSON.parse(policy)
  } catch {
    throw new KmsError('MalformedPolicyDocumentException', 'The policy is not a valid JSON document.')
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !('Statement' in doc)) {
    throw new KmsError('MalformedPolicyDocumentException', 'The policy must be a JSON object with a Statement element.')
  }
}
