/**
 * Client-side navigation without a dependency on the pages: `go` changes the
 * URL and tells the app (`main.ts` listens), which renders the new page.
 */

/** The event `go` sends on `window`. */
export const navigated = "agora:navigate"

/** Goes to an app path without reloading the page. */
export const go = (to: string, options: { readonly replace?: boolean } = {}): void => {
  if (options.replace === true) history.replaceState(null, "", to)
  else history.pushState(null, "", to)
  window.scrollTo(0, 0)
  window.dispatchEvent(new Event(navigated))
}

/** What a page gets: where to render, the path's parameters, and a signal aborted when the user leaves. */
export interface PageContext {
  readonly main: HTMLElement
  readonly params: ReadonlyArray<string>
  readonly query: URLSearchParams
  readonly signal: AbortSignal
}
