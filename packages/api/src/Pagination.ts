/**
 * Cursor pagination, the same on every list: `?limit=&cursor=` in,
 * `{ data, next_cursor }` out. `limit` is 1..100 (default 20); a cursor is
 * opaque to clients.
 */
import { Schema } from "effect"

export const defaultLimit = 20

export const PageQuery = {
  limit: Schema.optional(
    Schema.FiniteFromString.pipe(Schema.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 100 })))
  ),
  cursor: Schema.optional(Schema.String.pipe(Schema.check(Schema.isMaxLength(200))))
}

export const Page = <S extends Schema.Top>(item: S) =>
  Schema.Struct({ data: Schema.Array(item), next_cursor: Schema.NullOr(Schema.String) })
