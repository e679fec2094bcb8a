/**
 * Reads a metric from the server's `/metrics` (Prometheus text): the sum of
 * every series of that name whose labels include the given ones, or
 * undefined when the server does not export it (or did not answer).
 */

const series = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/

export const read = async (
  url: string,
  name: string,
  labels: Readonly<Record<string, string>> = {}
): Promise<number | undefined> => {
  let text: string
  try {
    const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(3_000) })
    if (!response.ok) return undefined
    text = await response.text()
  } catch {
    return undefined
  }
  let total: number | undefined
  for (const line of text.split("\n")) {
    const match = series.exec(line)
    if (match === null || match[1] !== name) continue
    const present = match[3] ?? ""
    if (!Object.entries(labels).every(([key, value]) => present.includes(`${key}="${value}"`))) continue
    total = (total ?? 0) + Number(match[4])
  }
  return total
}
