import { KmsError } from '../core/errors.js'
import type { ParsedPolicy } from '../policy/index.js'
import { parsedKeyPolicy } from './authorize.js'

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

/** Every KMS key has one key policy, called "default". */
export function checkPolicyName(name: string | undefined): void {
  if (name !== undefined && name !== 'default') throw new KmsError('NotFoundException', `No such policy exists: ${name}`)
}

/**
 * Checks a key policy document: size, then JSON and the policy grammar as the evaluator reads it.
 * Returns the parsed policy; whether it locks the caller out is checked where the caller is known.
 */
export function checkKeyPolicy(policy: string): ParsedPolicy {
  if (Buffer.byteLength(policy, 'utf8') > MAX_POLICY_BYTES) throw new KmsError('LimitExceededException', `Policy exceeds the maximum allowed size of ${MAX_POLICY_BYTES} bytes`)
  return parsedKeyPolicy(policy)
}
