import { KmsError } from '../core/errors.js'
import { t } from '../core/shape.js'
import type { Tag } from '../store/store.js'

/** The Tag shape of the service model. */
export const TagShape = t.structure({
  TagKey: t.required(t.string({ min: 1, max: 128 })),
  TagValue: t.required(t.string({ min: 0, max: 256 })),
})
export const TagList = t.list(TagShape)

/** AWS's limit of tags on one key. */
export const MAX_TAGS = 50

/** Applies AWS's tag rules beyond the shape: reserved prefix, duplicates, count. */
export function checkTags(tags: readonly Tag[], existing: readonly Tag[] = []): void {
  const seen = new Set<string>()
  for (const tag of tags) {
    if (tag.TagKey.toLowerCase().startsWith('aws:')) throw new KmsError('TagException', 'Tags beginning with aws: are reserved')
    if (seen.has(tag.TagKey)) throw new KmsError('TagException', 'Duplicate tag keys')
    seen.add(tag.TagKey)
  }
  const total = new Set([...existing.map((x) => x.TagKey), ...seen]).size
  if (total > MAX_TAGS) throw new KmsError('TagException', 'Too many tags')
}
