import type { IamTag } from '../../store/store.js'
import { authorizeIam, existingRoleArn, existingUserArn, IamError, listPage, noSuchRole, noSuchUser, type IamAction, type IamContext, type Params } from './iam-action.js'

/** AWS's most tags on one IAM user or role. */
const MAX_TAGS = 50
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u

const sameKey = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase()

/** `base` with `added` put in: an added tag replaces the one of the same key (IAM compares keys without case). */
export function withTags(base: readonly IamTag[], added: readonly IamTag[]): IamTag[] {
  return [...base.filter((t) => !added.some((a) => sameKey(a.Key, t.Key))), ...added]
}

/** The `Tags.member.N.Key` / `.Value` of a request, checked as AWS checks them (none when absent). */
export function tagsParam(params: Params): IamTag[] {
  const tags: IamTag[] = []
  for (let n = 1; params.optional(`Tags.member.${n}.Key`) !== undefined || params.optional(`Tags.member.${n}.Value`) !== undefined; n++) {
    const Key = params.text(`Tags.member.${n}.Key`, 1, 128, TAG_KEY, '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+')
    const Value = params.text(`Tags.member.${n}.Value`, 0, 256, TAG_VALUE, '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*')
    // IAM tag keys are unique without regard to case.
    if (tags.some((t) => sameKey(t.Key, Key))) throw new IamError('InvalidInput', 'Duplicate tag keys found. Please note that Tag keys are case insensitive.')
    tags.push({ Key, Value })
  }
  // The API model's constraint on the list itself.
  if (tags.length > MAX_TAGS) {
    throw new IamError('ValidationError', `1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TAGS}`)
  }
  return tags
}

function tooMany(kind: TagOwner['kind']): IamError {
  // The quota AWS documents (50 tags per IAM user or role), worded as the AWS emulators report
  // AWS's answer; not confirmed against AWS itself.
  return new IamError('LimitExceeded', `Cannot exceed quota for TagsPer${kind}: ${MAX_TAGS}`, 409)
}

/** What the tag actions of users and roles differ in. */
interface TagOwner {
  readonly kind: 'User' | 'Role'
  arn(ctx: IamContext, name: string): Promise<string>
  /** The owner's tags and how to replace them (false when it is gone meanwhile), or undefined when it does not exist. */
  load(ctx: IamContext, name: string): Promise<{ tags: IamTag[]; write(tags: IamTag[]): Promise<boolean> } | undefined>
  /** Its access keys (a user's, or a role's sessions'), whose cached signing keys carry the old tags. */
  accessKeyIds(ctx: IamContext, name: string): Promise<string[]>
  missing(name: string): Error
}

/** Reads the owner's tags, applies `change`, writes them back and makes its callers' cached principals go. */
async function retag(owner: TagOwner, ctx: IamContext, name: string, change: (tags: IamTag[]) => IamTag[]): Promise<void> {
  const loaded = await owner.load(ctx, name)
  if (!loaded) throw owner.missing(name)
  const next = change(loaded.tags)
  if (next.length > MAX_TAGS) throw tooMany(owner.kind)
  if (!(await loaded.write(next))) throw owner.missing(name)
  for (const id of await owner.accessKeyIds(ctx, name)) ctx.forgetAccessKey(id)
}

/** TagUser / TagRole, UntagUser / UntagRole, ListUserTags / ListRoleTags of one kind of owner. */
function tagActions(owner: TagOwner): [IamAction, IamAction, IamAction] {
  const nameOf = (params: Params): string => params.name(`${owner.kind}Name`, 128)
  return [
    {
      name: `Tag${owner.kind}`,
      service: 'iam',
      async run(ctx, params) {
        const name = nameOf(params)
        const added = tagsParam(params)
        if (added.length === 0) params.required('Tags.member.1.Key')
        await authorizeIam(ctx, `Tag${owner.kind}`, await owner.arn(ctx, name))
        await retag(owner, ctx, name, (tags) => withTags(tags, added))
        return undefined
      },
    },
    {
      name: `Untag${owner.kind}`,
      service: 'iam',
      async run(ctx, params) {
        const name = nameOf(params)
        const keys: string[] = []
        for (let n = 1; params.optional(`TagKeys.member.${n}`) !== undefined; n++) keys.push(params.text(`TagKeys.member.${n}`, 1, 128, TAG_KEY, '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+'))
        if (keys.length === 0) params.required('TagKeys.member.1')
        await authorizeIam(ctx, `Untag${owner.kind}`, await owner.arn(ctx, name))
        await retag(owner, ctx, name, (tags) => tags.filter((t) => !keys.some((k) => sameKey(k, t.Key))))
        return undefined
      },
    },
    {
      name: `List${owner.kind}Tags`,
      service: 'iam',
      async run(ctx, params) {
        const name = nameOf(params)
        await authorizeIam(ctx, `List${owner.kind}Tags`, await owner.arn(ctx, name))
        const loaded = await owner.load(ctx, name)
        if (!loaded) throw owner.missing(name)
        const page = listPage(params, loaded.tags, (t) => t.Key)
        return { Tags: page.items.map((t) => ({ Key: t.Key, Value: t.Value })), IsTruncated: page.IsTruncated, Marker: page.Marker }
      },
    },
  ]
}

export const [tagUser, untagUser, listUserTags] = tagActions({
  kind: 'User',
  arn: existingUserArn,
  load: async (ctx, name) => {
    const user = await ctx.deps.store.getUser(ctx.caller.accountId, name)
    return user && { tags: user.tags ?? [], write: (tags) => ctx.deps.store.updateUserTags(ctx.caller.accountId, name, tags) }
  },
  accessKeyIds: async (ctx, name) => (await ctx.deps.store.listUserCredentials(ctx.caller.accountId, name)).map((c) => c.accessKeyId),
  missing: noSuchUser,
})

export const [tagRole, untagRole, listRoleTags] = tagActions({
  kind: 'Role',
  arn: existingRoleArn,
  load: async (ctx, name) => {
    const role = await ctx.deps.store.getRole(ctx.caller.accountId, name)
    if (!role) return undefined
    const { tags = [], ...rest } = role
    // updateRole matches the role id too: a role deleted and created anew meanwhile is not retagged.
    return { tags, write: (next) => ctx.deps.store.updateRole(next.length > 0 ? { ...rest, tags: next } : rest) }
  },
  accessKeyIds: (ctx, name) => ctx.deps.store.listRoleSessionIds(ctx.caller.accountId, name),
  missing: noSuchRole,
})
