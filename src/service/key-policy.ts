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

/** Every KMS key has one key policy, called "default". */
export function checkPolicyName(name: string | undefined): void {
  if (name !== undefined && name !== 'default') throw new KmsError('NotFoundException', `No such policy exists: ${name}`)
}

function malformed(message: string): never {
  throw new KmsError('MalformedPolicyDocumentException', message)
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isStringOrStrings = (v: unknown): boolean =>
  typeof v === 'string' || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'))

const TOP_LEVEL = new Set(['Version', 'Id', 'Statement'])
const STATEMENT = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition'])
const PRINCIPAL_TYPES = new Set(['AWS', 'Service', 'Federated', 'CanonicalUser'])

function checkPrincipal(p: unknown): void {
  if (p === '*') return
  if (!isObject(p) || Object.keys(p).length === 0) malformed('Policy contains a statement with one or more invalid principals.')
  for (const [type, value] of Object.entries(p)) {
    if (!PRINCIPAL_TYPES.has(type) || !isStringOrStrings(value)) malformed('Policy contains a statement with one or more invalid principals.')
  }
}

function checkStatement(s: unknown): void {
  if (!isObject(s)) malformed('Each policy statement must be a JSON object.')
  for (const k of Object.keys(s)) if (!STATEMENT.has(k)) malformed(`Policy statement contains an unknown element: ${k}`)
  if (s['Sid'] !== undefined && typeof s['Sid'] !== 'string') malformed('Sid must be a string.')
  if (s['Effect'] !== 'Allow' && s['Effect'] !== 'Deny') malformed('Policy statement Effect must be "Allow" or "Deny".')
  if ((s['Principal'] === undefined) === (s['NotPrincipal'] === undefined)) malformed('Policy contains a statement with no principal.')
  checkPrincipal(s['Principal'] ?? s['NotPrincipal'])
  if ((s['Action'] === undefined) === (s['NotAction'] === undefined)) malformed('Policy statement must contain exactly one of Action or NotAction.')
  if (!isStringOrStrings(s['Action'] ?? s['NotAction'])) malformed('Policy statement Action must be a string or a list of strings.')
  if ((s['Resource'] === undefined) === (s['NotResource'] === undefined)) malformed('Policy statement must contain exactly one of Resource or NotResource.')
  if (!isStringOrStrings(s['Resource'] ?? s['NotResource'])) malformed('Policy statement Resource must be a string or a list of strings.')
  const condition = s['Condition']
  if (condition !== undefined) {
    if (!isObject(condition)) malformed('Policy statement Condition must be a JSON object.')
    for (const block of Object.values(condition)) {
      if (!isObject(block)) malformed('Each condition operator must map condition keys to values.')
      for (const v of Object.values(block)) {
        const values = Array.isArray(v) ? v : [v]
        if (!values.every((x) => ['string', 'number', 'boolean'].includes(typeof x))) malformed('Condition values must be strings, numbers or booleans.')
      }
    }
  }
}

/**
 * Checks a key policy document: size, JSON, and the policy grammar (Version, Statement, Effect,
 * Principal, Action, Resource, Condition). Evaluating it, and the lockout safety check, belong to
 * the authorisation layer.
 */
export function checkKeyPolicy(policy: string): void {
  if (Buffer.byteLength(policy, 'utf8') > MAX_POLICY_BYTES) throw new KmsError('LimitExceededException', `Policy exceeds the maximum allowed size of ${MAX_POLICY_BYTES} bytes`)
  let doc: unknown
  try {
    doc = JSON.parse(policy)
  } catch {
    malformed('The policy is not a valid JSON document.')
  }
  if (!isObject(doc)) malformed('The policy must be a JSON object.')
  for (const k of Object.keys(doc)) if (!TOP_LEVEL.has(k)) malformed(`The policy contains an unknown element: ${k}`)
  if (doc['Version'] !== undefined && doc['Version'] !== '2012-10-17' && doc['Version'] !== '2008-10-17') malformed('The policy Version must be "2012-10-17" or "2008-10-17".')
  const statements = doc['Statement']
  if (statements === undefined) malformed('The policy must contain a Statement element.')
  const list = Array.isArray(statements) ? statements : [statements]
  if (list.length === 0) malformed('The policy must contain at least one statement.')
  list.forEach(checkStatement)
}
