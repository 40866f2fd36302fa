import { buildRequest, evaluate } from '../../policy/index.js'
import { identityPoliciesOf, limitBySessionPolicy, parsedIdentityPolicy, requestPrincipal } from '../authorize.js'
import { assumedRoleArn } from '../kms-service.js'
import { IamError, isoDate, parseTrustPolicy, type IamAction } from './iam-action.js'
import { tagsParam } from './tags.js'

/** DurationSeconds: AWS's bounds (the role's MaxSessionDuration caps it further) and default. */
const DURATION_SECONDS = { min: 900, max: 43200, default: 3600 } as const
/** A session that assumes another role (role chaining) gets at most one hour, whatever the role allows. */
const CHAINED_MAX_SECONDS = 3600
/** AWS's limit on an inline session policy's plaintext. */
const MAX_SESSION_POLICY_CHARS = 2048

/**
 * STS AssumeRole: the role's trust policy must allow the caller sts:AssumeRole (as a resource
 * policy, with `sts:ExternalId`, `sts:RoleSessionName`, `aws:PrincipalArn`, ... as condition keys),
 * and, unless it names the caller directly, so must the caller's identity policies (the account
 * root always may). Issues temporary credentials: `ASIA...` key, secret, session token; with
 * `Policy`, the session may do only what both that session policy and the role's policies allow.
 */
export const assumeRole: IamAction = {
  name: 'AssumeRole',
  service: 'sts',
  async run(ctx, params) {
    const arn = params.required('RoleArn')
    params.text('RoleArn', 20, 2048)
    const sessionName = params.text('RoleSessionName', 2, 64, /^[\w+=,.@-]*$/, '[\\w+=,.@-]*')
    const externalId = params.optional('ExternalId')
    if (externalId !== undefined) params.text('ExternalId', 2, 1224, /^[\w+=,.@:/-]*$/, '[\\w+=,.@:\\/-]*')
    const sessionTags = tagsParam(params)
    if (params.optional('TransitiveTagKeys.member.1') !== undefined) {
      throw new IamError('ValidationError', 'Trent does not support transitive session tags (TransitiveTagKeys); pass the tags to each AssumeRole.')
    }
    const sessionPolicy = params.optional('Policy')
    if (sessionPolicy !== undefined) params.text('Policy', 1, MAX_SESSION_POLICY_CHARS)
    const duration = params.integer('DurationSeconds', DURATION_SECONDS.min, DURATION_SECONDS.max) ?? DURATION_SECONDS.default
    // A malformed session policy is refused before the role is even looked at.
    if (sessionPolicy !== undefined) {
      try {
        parsedIdentityPolicy(sessionPolicy)
      } catch (e) {
        throw new IamError('MalformedPolicyDocument', e instanceof Error ? e.message : 'Syntax errors in policy.')
      }
    }

    // role/<path/>name: the path is part of the ARN, and must be the role's own.
    const m = /^arn:([^:]+):iam::(\d{12}):role\/(?:[\x21-\x7E]*\/)?([\w+=,.@-]{1,64})$/.exec(arn)
    const principal = requestPrincipal(ctx.caller)
    const facts = {
      principal,
      action: 'sts:AssumeRole',
      resource: { arn, account: m?.[2] ?? ctx.caller.accountId },
      time: new Date(ctx.deps.clock.now()),
      ...(ctx.caller.sourceIp === undefined ? {} : { sourceIp: ctx.caller.sourceIp }),
      secureTransport: false,
      extra: { 'sts:RoleSessionName': sessionName, ...(externalId === undefined ? {} : { 'sts:ExternalId': externalId }) },
    }
    const request = buildRequest(facts)
    // A role that does not exist (or of another partition) is refused like one that does not trust the caller.
    const found = m && m[1] === ctx.deps.partition ? await ctx.deps.store.getRole(m[2]!, m[3]!) : undefined
    const role = found?.arn === arn ? found : undefined
    const denied = (): IamError => new IamError('AccessDenied', `User: ${principal.arn} is not authorized to perform: sts:AssumeRole on resource: ${arn}`, 403)
    if (!role) throw denied()
    const identityPolicies = (await identityPoliciesOf(ctx.deps, ctx.caller)) ?? []
    const trustPolicy = parseTrustPolicy(role.trustPolicy)
    // A session assuming another role (role chaining) is limited by its own session policy too.
    const decision = limitBySessionPolicy(ctx.deps, ctx.caller, request, evaluate(request, { keyPolicy: trustPolicy, identityPolicies }), trustPolicy)
    if (decision.decision !== 'Allow') throw denied()
    // Session tags need sts:TagSession too, with aws:RequestTag/<key> and aws:TagKeys to condition on.
    if (sessionTags.length > 0) {
      const tagRequest = buildRequest({ ...facts, action: 'sts:TagSession', requestTags: Object.fromEntries(sessionTags.map((t) => [t.Key, t.Value])) })
      const tagging = limitBySessionPolicy(ctx.deps, ctx.caller, tagRequest, evaluate(tagRequest, { keyPolicy: trustPolicy, identityPolicies }), trustPolicy)
      if (tagging.decision !== 'Allow') throw new IamError('AccessDenied', `User: ${principal.arn} is not authorized to perform: sts:TagSession on resource: ${arn}`, 403)
    }
    if (ctx.caller.role && duration > CHAINED_MAX_SECONDS) {
      throw new IamError('ValidationError', 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.')
    }
    if (duration > role.maxSessionDuration) {
      throw new IamError('ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.')
    }
    const issued = await ctx.service.issueRoleSession(role, sessionName, duration, sessionPolicy, sessionTags)
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
