/** Small helpers for the suite's plain async code: a pause, and a map with bounded concurrency. */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs `f` over `items`, at most `limit` at a time; the results in the items' order. */
export const mapLimit = async <A, B>(
  items: ReadonlyArray<A>,
  limit: number,
  f: (item: A) => Promise<B>
): Promise<Array<B>> => {
  const results: Array<B> = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        results[i] = await f(items[i]!)
      }
    })
  )
  return results
}
