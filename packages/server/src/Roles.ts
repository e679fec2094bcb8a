/**
 * What one process runs (`ROLE`), so that the API and the background work can
 * be scaled apart from the same image:
 *
 * - `api`: the HTTP API and the web UI;
 * - `workers`: the saga coordinator and its payment deadlines, the outbox
 *   relay, the shipping inbox and the projections;
 * - `simulators`: the built-in payment provider (HTTP) and shipping service
 *   (on the broker), for demos and tests.
 *
 * `ROLE` is a comma-separated set of these, or `all` (the default: one process
 * does everything, as the embedded start does).
 */
import { Config, Schema } from "effect"

export type Role = "api" | "workers" | "simulators"

const names: ReadonlyArray<Role> = ["api", "workers", "simulators"]

export type Roles = ReadonlySet<Role>

export const all: Roles = new Set(names)

const RoleList = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(/^\s*(all|api|workers|simulators)\s*(,\s*(all|api|workers|simulators)\s*)*$/, {
      message: 'ROLE is a comma-separated list of "api", "workers", "simulators", or "all"'
    })
  )
)

/** Parses a `ROLE` value already checked against `RoleList`. */
export const parse = (text: string): Roles => {
  const items = text.split(",").map((item) => item.trim())
  return items.includes("all") ? all : new Set(names.filter((name) => items.includes(name)))
}

export const config: Config.Config<Roles> = Config.schema(RoleList, "ROLE").pipe(
  Config.withDefault("all"),
  Config.map(parse)
)

/** `api,workers` — for the log. */
export const describe = (roles: Roles): string =>
  roles.size === names.length ? "all (api, workers, simulators)" : names.filter((name) => roles.has(name)).join(", ")
