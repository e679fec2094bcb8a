/**
 * The shop web UI: the browser app, built in memory at start-up, and the
 * routes that serve it. Mounted by the server's composition root.
 */
export * as Assets from "./Assets.ts"
export * as WebUi from "./WebUi.ts"
