/**
 * The pieces every page uses: loading, empty and error states, labelled form
 * fields, and forms that show the API's problems where they belong — the
 * `detail` above the form, each `errors[]` entry under its field.
 */
import { type ApiError, asApiError } from "./api.ts"
import { type Child, h, replace, uid } from "./dom.ts"

/** A page's heading; focused after navigation so screen readers announce the new page. */
export const heading = (text: string): HTMLHeadingElement => h("h1", { tabindex: -1 }, text)

export const loading = (what = "Loading…"): HTMLElement => h("p", { class: "state loading", role: "status" }, what)

export const empty = (...children: ReadonlyArray<Child>): HTMLElement => h("div", { class: "state empty" }, children)

/** A problem for people: what went wrong, and each field at fault when the API lists them (a summary; forms also show each under its field). */
export const errorAlert = (error: ApiError, prefix?: string): HTMLElement =>
  h(
    "div",
    { class: "alert", role: "alert", tabindex: -1 },
    h("p", null, prefix === undefined ? null : h("strong", null, `${prefix} `), error.message),
    (error.problem.errors?.length ?? 0) > 0
      ? h(
          "ul",
          null,
          error.problem.errors?.map((e) =>
            h("li", null, `${e.path.filter((p) => p !== "payload").join(".")}: ${e.message}`)
          )
        )
      : null
  )

/** Empties the message region (on leaving a page: its messages are about that page). */
export const clearToast = (): void => {
  const region = document.getElementById("toast")
  region?.replaceChildren()
  region?.classList.remove("visible")
}

/** Shows a message in the page's polite live region for a few seconds. */
export const toast = (message: string): void => {
  const region = document.getElementById("toast")
  if (region === null) return
  region.textContent = message
  region.classList.add("visible")
  window.setTimeout(() => {
    if (region.textContent === message) {
      region.textContent = ""
      region.classList.remove("visible")
    }
  }, 4000)
}

export interface FieldOptions {
  readonly label: string
  readonly name: string
  readonly type?: string
  readonly hint?: string
  readonly control?: HTMLInputElement | HTMLSelectElement
  readonly attributes?: Readonly<Record<string, string | number | boolean>>
}

/** A labelled control with its hint and a slot for its error, all wired by id. */
export const field = (options: FieldOptions): HTMLElement => {
  const id = uid(options.name)
  const control =
    options.control ?? h("input", { type: options.type ?? "text", ...options.attributes, name: options.name })
  control.id = id
  const described = [options.hint === undefined ? undefined : `${id}-hint`, `${id}-error`].filter(
    (x) => x !== undefined
  )
  control.setAttribute("aria-describedby", described.join(" "))
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, options.label),
    options.hint === undefined ? null : h("p", { class: "hint", id: `${id}-hint` }, options.hint),
    control,
    h("p", { class: "field-error", id: `${id}-error`, "data-error-for": options.name })
  )
}

/**
 * Submits a form through `action` with the button busy meanwhile; a failure
 * is shown in the form (the problem's detail on top, field errors under their
 * fields) and focus moves to it.
 */
export const onSubmit = (form: HTMLFormElement, action: (data: FormData) => Promise<void>): void => {
  const alert = h("div", { class: "form-alert" })
  const title = form.querySelector("h2, h3")
  if (title === null) form.prepend(alert)
  else title.after(alert)
  form.noValidate = true
  form.addEventListener("submit", async (event) => {
    event.preventDefault()
    const button = form.querySelector<HTMLButtonElement>("button[type=submit]")
    if (button?.disabled) return
    replace(alert)
    for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = ""
    for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid")
    if (button !== null) {
      button.disabled = true
      button.setAttribute("aria-busy", "true")
    }
    try {
      await action(new FormData(form))
    } catch (failure) {
      const error = asApiError(failure)
      replace(alert, errorAlert(error))
      let first: HTMLElement | undefined
      for (const [name, message] of error.fields) {
        const control = form.elements.namedItem(name)
        const slot = form.querySelector(`[data-error-for="${name}"]`)
        if (!(control instanceof HTMLElement) || slot === null) continue
        control.setAttribute("aria-invalid", "true")
        slot.textContent = message
        first ??= control
      }
      ;(first ?? alert.querySelector<HTMLElement>("[role=alert]"))?.focus?.()
    } finally {
      if (button?.isConnected) {
        button.disabled = false
        button.removeAttribute("aria-busy")
      }
    }
  })
}

/** A table that turns into labelled rows on narrow screens (each cell names its column). */
export const table = (
  caption: string,
  columns: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<Child>>,
  footer?: ReadonlyArray<Child>
): HTMLElement =>
  h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "responsive" },
      h("caption", { class: "visually-hidden" }, caption),
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          columns.map((c) => h("th", { scope: "col" }, c))
        )
      ),
      h(
        "tbody",
        null,
        rows.map((cells) =>
          h(
            "tr",
            null,
            cells.map((cell, i) => h("td", { "data-label": columns[i] ?? "" }, cell))
          )
        )
      ),
      footer === undefined
        ? null
        : h(
            "tfoot",
            null,
            h(
              "tr",
              null,
              footer.map((cell, i) => h("td", { "data-label": columns[i] ?? "" }, cell))
            )
          )
    )
  )
