import { buildRequest, evaluate } from '../../policy/index.js'
import { identityPoliciesOf, requestPrincipal } from '../authorize.js'
import { assumedRoleArn } from '../kms-service.js'
import { IamError, isoDate, parseTrustPolicy, ROLE_MAX_SESSION_SECONDS, type IamAction } from './iam-action.js'

const MIN_DURATION_SECONDS = 900
const MAX_DURATION_SECONDS = 43200
const DEFAULT_DURATION_SECONDS = 3600

/**
 * STS AssumeRole: the role's trust policy must allow the caller sts:AssumeRole (as a resource
 * policy), and, unless it names the caller directly, so must the caller's identity policies (the
 * account root always may). Issues temporary credentials: `ASIA...` key, secret, session token.
 */
export const assumeRole: IamAction = {
  name: 'AssumeRole',
  service: 'sts',
  async run(ctx, params) {
    const arn = params.required('RoleArn')
    const sessionName = params.required('RoleSessionName')
    if (sessionName.length < 2 || sessionName.length > 64) {
      throw new IamError('ValidationError', `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must have length ${sessionName.length < 2 ? 'greater than or equal to 2' : 'less than or equal to 64'}`)
    }
    if (!/^[\w+=,.@-]*$/.test(sessionName)) {
      throw new IamError('ValidationError', `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`)
    }
    const durationRaw = params.optional('DurationSeconds')
    const duration = durationRaw === undefined ? DEFAULT_DURATION_SECONDS : Number(durationRaw)
    if (!Number.isInteger(duration) || duration < MIN_DURATION_SECONDS || duration > MAX_DURATION_SECONDS) {
      throw new IamError('ValidationError', `1 validation error detected: Value '${durationRaw}' at 'durationSeconds' failed to satisfy constraint: Member must have value ${duration < MIN_DURATION_SECONDS ? `greater than or equal to ${MIN_DURATION_SECONDS}` : `less than or equal to ${MAX_DURATION_SECONDS}`}`)
    }
    const m = /^arn:([^:]+):iam::(\d{12}):role\/([\w+=,.@-]{1,64})$/.exec(arn)
    const principal = requestPrincipal(ctx.caller)
    const request = buildRequest({
      principal,
      action: 'sts:AssumeRole',
      resource: { arn, account: m?.[2] ?? ctx.caller.accountId },
      time: new Date(ctx.deps.clock.now()),
      ...(ctx.caller.sourceIp === undefined ? {} : { sourceIp: ctx.caller.sourceIp }),
      secureTransport: false,
    })
    // A role that does not exist (or of another partition) is refused like one that does not trust the caller.
    const role = m && m[1] === ctx.deps.partition ? await ctx.deps.store.getRole(m[2]!, m[3]!) : undefined
    const denied = (): IamError => new IamError('AccessDenied', `User: ${principal.arn} is not authorized to perform: sts:AssumeRole on resource: ${arn}`, 403)
    if (!role) throw denied()
    const identityPolicies = (await identityPoliciesOf(ctx.deps, ctx.caller)) ?? []
    const decision = evaluate(request, { keyPolicy: parseTrustPolicy(role.trustPolicy), identityPolicies })
    if (decision.decision !== 'Allow') throw denied()
    if (duration > ROLE_MAX_SESSION_SECONDS) {
      throw new IamError('ValidationError', `The requested DurationSeconds exceeds the MaxSessionDuration set for this role.`)
    }
    const issued = await ctx.service.issueRoleSession(role, sessionName, duration)
    if (!issued) throw denied()
    return {
      Credentials: {
        AccessKeyId: issued.accessKeyId,
        SecretAccessKey: issued.secretAccessKey,
        SessionToken: issued.sessionToken,
        Expiration: isoDate(issued.expiresAt),
      },
      AssumedRoleUser: {
        AssumedRoleId: `${role.roleId}:${sessionName}`,
        Arn: assumedRoleArn(ctx.deps.partition, role.accountId, role.roleName, sessionName),
      },
    }
  },
}
