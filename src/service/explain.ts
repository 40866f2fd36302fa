import { isKeyId, parseArn } from '../core/arn.js'
import { KmsError } from '../core/errors.js'
import type { EncryptionContext } from '../core/types.js'
import type { Decider } from '../policy/index.js'
import { decide, type PolicyDeps } from './authorize.js'
import type { Caller, ServiceDeps } from './deps.js'
import { resolveKey } from './resolve-key.js'

/** A question an administrator asks: may this principal do this to this key? */
export interface ExplainQuestion {
  /** `arn:aws:iam::<account>:root` or `arn:aws:iam::<account>:user/<name>`. */
  principalArn: string
  /** e.g. `kms:Decrypt`. */
  action: string
  /** Key id or key ARN. */
  keyId: string
  encryptionContext?: EncryptionContext
}

/** The decision and what made it. For administrators only: it describes policy contents. */
export interface Explanation {
  decision: 'Allow' | 'ExplicitDeny' | 'ImplicitDeny'
  decidedBy: readonly Decider[]
  explanation: string
}

/**
 * Evaluates a request as the service would, without making it, and says which statements or grant
 * decided (`trent policy explain`). Callers never get this: AccessDeniedException tells them nothing
 * about the policies.
 */
export async function explainAccess(deps: PolicyDeps, question: ExplainQuestion): Promise<Explanation> {
  const arn = parseArn(question.principalArn)
  if (!arn || arn.service !== 'iam' || !/^\d{12}$/.test(arn.account)) throw new KmsError('ValidationException', `Not an IAM principal ARN: ${question.principalArn}`)
  let caller: Caller = { accountId: arn.account, principalArn: question.principalArn, accessKeyId: '' }
  if (arn.resource.startsWith('user/')) {
    const userName = arn.resource.slice(arn.resource.lastIndexOf('/') + 1)
    const user = await deps.store.getUser(arn.account, userName)
    if (!user || user.arn !== question.principalArn) throw new KmsError('NotFoundException', `No IAM user ${question.principalArn}`)
    caller = { ...caller, user: { userName: user.userName, userId: user.userId } }
  } else if (arn.resource !== 'root') {
    throw new KmsError('ValidationException', `Only account roots and IAM users can be explained: ${question.principalArn}`)
  }
  const keyArn = question.keyId.startsWith('arn:') ? parseArn(question.keyId) : undefined
  const keyId = keyArn ? keyArn.resource.replace(/^key\//, '') : question.keyId
  const key = isKeyId(keyId) ? await deps.store.getKey(keyId) : undefined
  if (!key) throw new KmsError('NotFoundException', `Key '${question.keyId}' does not exist`)
  const { decision } = await decide(deps, caller, key, question.action, question.encryptionContext ? { encryptionContext: question.encryptionContext } : {})
  return { decision: decision.decision, decidedBy: decision.decidedBy, explanation: decision.explanation }
}

/**
 * `TrentAdmin.ExplainPolicy` over HTTP, the twin of `trent policy explain`. Only the account root
 * of the key's own account gets an answer: anyone else is refused before the input is looked at,
 * and a key of another account answers as a key that does not exist, as management operations do.
 */
export async function explainForCaller(
  deps: ServiceDeps,
  caller: Caller,
  input: unknown,
): Promise<{ Decision: Explanation['decision']; DecidedBy: readonly Decider[]; Explanation: string }> {
  if (caller.user || caller.role || caller.principalArn !== `arn:${deps.partition}:iam::${caller.accountId}:root`) {
    throw new KmsError('AccessDeniedException', `User: ${caller.principalArn} is not authorized to perform: trent:ExplainPolicy`)
  }
  const o = (typeof input === 'object' && input !== null && !Array.isArray(input) ? input : {}) as Record<string, unknown>
  const str = (name: string): string => {
    const v = o[name]
    if (typeof v !== 'string' || v === '') throw new KmsError('ValidationException', `${name} is required and must be a non-empty string`)
    return v
  }
  const principalArn = str('PrincipalArn')
  const action = str('Action')
  const keyIdInput = str('KeyId')
  const ctx = o['EncryptionContext']
  if (ctx !== undefined && (typeof ctx !== 'object' || ctx === null || Array.isArray(ctx) || Object.values(ctx).some((v) => typeof v !== 'string'))) {
    throw new KmsError('ValidationException', 'EncryptionContext must be a map of strings')
  }
  const key = await resolveKey(deps, caller, keyIdInput, { allowAlias: false })
  const answer = await explainAccess(deps, {
    principalArn,
    action,
    keyId: key.keyId,
    ...(ctx === undefined ? {} : { encryptionContext: ctx as EncryptionContext }),
  })
  return { Decision: answer.decision, DecidedBy: answer.decidedBy, Explanation: answer.explanation }
}
