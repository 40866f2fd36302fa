import type { IamTag } from './store.js'

/** The stored form of an IAM user's or role's tags: a JSON array of `{Key, Value}`. */
export function tagsColumn(tags: readonly IamTag[] | undefined): string {
  return JSON.stringify((tags ?? []).map((t) => ({ Key: t.Key, Value: t.Value })))
}

/** The `sessionTags` member of a role session read back: absent when there are none. */
export function sessionTagsFromColumn(text: string): { sessionTags?: IamTag[] } {
  const { tags } = tagsFromColumn(text)
  return tags ? { sessionTags: tags } : {}
}

/** The `tags` member of a record read back: absent when there are none. */
export function tagsFromColumn(text: string): { tags?: IamTag[] } {
  const tags = JSON.parse(text) as IamTag[]
  return tags.length > 0 ? { tags } : {}
}
