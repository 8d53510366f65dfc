/**
 * Listing executions: the cursor format, one page computed in memory (for
 * storages that cannot filter and page themselves), and every matching
 * execution read a page at a time.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type {
  ExecutionPage,
  ExecutionRecord,
  ExecutionStatus,
  ExecutionStorageService,
  ListFilter
} from "../../ExecutionStorage.js"
import { InvalidCursor } from "./service.js"

/** The position after which the next page starts: newest first, by creation time then id. */
export interface After {
  readonly createdAt: number
  readonly id: string
}

export const encodeCursor = (record: After): string => `${record.createdAt}:${record.id}`

export const decodeCursor = (cursor: string): Effect.Effect<After, InvalidCursor> => {
  const at = cursor.indexOf(":")
  const createdAt = Number(cursor.slice(0, at))
  return at <= 0 || !Number.isFinite(createdAt)
    ? Effect.fail(new InvalidCursor({ cursor }))
    : Effect.succeed({ createdAt, id: cursor.slice(at + 1) })
}

/** The statuses a filter asks for, as a list. */
export const statusesOf = (status: ListFilter["status"]): ReadonlyArray<ExecutionStatus> | undefined =>
  status === undefined ? undefined : typeof status === "string" ? [status] : status

const newestFirst = (a: ExecutionRecord, b: After): number =>
  b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)

/**
 * One page of `list`, computed from all records in memory.
 */
export const listPage = (
  records: Iterable<ExecutionRecord>,
  filter: ListFilter
): Effect.Effect<ExecutionPage, InvalidCursor> =>
  Effect.flatMap(
    filter.cursor === undefined ? Effect.succeed(undefined) : decodeCursor(filter.cursor),
    (after) => {
      const wanted = statusesOf(filter.status)
      const statuses = wanted === undefined ? undefined : new Set(wanted)
      const limit = Math.max(1, filter.limit ?? 100)
      const matching: Array<ExecutionRecord> = []
      for (const record of records) {
        if (statuses !== undefined && !statuses.has(record.status)) continue
        if (filter.workflow !== undefined && record.workflow !== filter.workflow) continue
        if (filter.parent !== undefined && record.parent !== filter.parent) continue
        if (filter.idPrefix !== undefined && !record.id.startsWith(filter.idPrefix)) continue
        if (after !== undefined && newestFirst(record, after) <= 0) continue
        matching.push(record)
      }
      matching.sort(newestFirst)
      const page = matching.slice(0, limit)
      return Effect.succeed(
        matching.length > limit
          ? { executions: page, cursor: encodeCursor(page[page.length - 1]!) }
          : { executions: page }
      )
    }
  )

/**
 * Every execution matching `filter`, read from storage a page at a time.
 */
export const all = (
  storage: ExecutionStorageService,
  filter: Omit<ListFilter, "cursor">
) =>
  Stream.paginateChunkEffect(undefined as string | undefined, (cursor) =>
    Effect.map(
      // A cursor the storage handed out is always valid.
      Effect.catchTag(
        storage.list(cursor === undefined ? filter : { ...filter, cursor }),
        "InvalidCursor",
        Effect.die
      ),
      (page) =>
        [
          Chunk.unsafeFromArray(page.executions),
          page.cursor === undefined ? Option.none() : Option.some(page.cursor)
        ] as const
    ))
