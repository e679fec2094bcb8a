/**
 * `pnpm check:docker`: checks docker/Dockerfile, .dockerignore and
 * docker/compose.yml against the repository without a Docker engine, then
 * with whichever Compose is installed, and with `--build` builds and runs the
 * image on the engine when there is one.
 *
 * - The Dockerfile: its instructions, every COPY source present in the build
 *   context (after .dockerignore), the runtime stage (non-root user, port,
 *   health check, production settings), and every module the server and the
 *   scripts import at run time present in the context, each npm package a
 *   production dependency of the package that imports it (what the image's
 *   `pnpm install --prod` installs).
 * - The compose file: build context and Dockerfile paths, roles, health checks
 *   behind every `service_healthy`, the wiring of the split roles, demo
 *   defaults for every `${VAR}`, and every variable it sets one the code reads.
 * - `docker-compose config` (Compose v1, Debian's `docker-compose` package)
 *   and `docker compose config` (v2) when installed; skipped, saying so, when not.
 * - `--build [--network MODE]`: `docker build`, then the image run as
 *   `ROLE=simulators` with no network until Docker reports it healthy, then
 *   stopped with SIGTERM. Needs a running engine and the base image.
 *
 * Prints one line per check and `check:docker: N passed, N failed, N skipped`;
 * exits 1 when a check failed.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { builtinModules } from "node:module"
import { dirname, join, posix, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { ConfigProvider, Effect } from "effect"
import { parse as parseYaml } from "yaml"
import * as Roles from "../packages/server/src/Roles.ts"
import { lex, scanRepository } from "../packages/server/test/ConfigReads.ts"

const root = fileURLToPath(new URL("../", import.meta.url))
const dockerfilePath = "docker/Dockerfile"
const composePath = "docker/compose.yml"
const args = process.argv.slice(2)

if (args.includes("--help")) {
  console.log(`usage: pnpm check:docker [--build [--network MODE]]

Checks docker/Dockerfile, .dockerignore and docker/compose.yml against the code;
runs \`docker-compose config\` / \`docker compose config\` when installed.
--build        also build the image and run it (needs a Docker engine)
--network MODE network of the build's RUN steps (e.g. host)`)
  process.exit(0)
}

// ---------------------------------------------------------------- reporting

let passed = 0
let failed = 0
let skipped = 0

const check = (name: string, problems: ReadonlyArray<string>) => {
  if (problems.length === 0) {
    passed++
    console.log(`ok    ${name}`)
  } else {
    failed++
    console.log(`FAIL  ${name}`)
    for (const problem of problems) for (const line of problem.split("\n")) console.log(`        ${line}`)
  }
}

const skip = (name: string, why: string) => {
  skipped++
  console.log(`skip  ${name}: ${why}`)
}

const read = (path: string) => readFileSync(join(root, path), "utf8")

// ---------------------------------------------------------------- .dockerignore and the build context

/** A .dockerignore pattern as a regular expression over slash-separated relative paths. */
const ignoreRegex = (pattern: string) => {
  let source = ""
  const clean = posix.normalize(pattern.replace(/^\/+/, "")).replace(/\/+$/, "")
  for (let i = 0; i < clean.length; i++) {
    const c = clean[i] ?? ""
    if (c === "*" && clean[i + 1] === "*") {
      const slash = clean[i + 2] === "/"
      source += slash ? "(?:.*/)?" : ".*"
      i += slash ? 2 : 1
    } else if (c === "*") source += "[^/]*"
    else if (c === "?") source += "[^/]"
    else if (c === "[") {
      const end = clean.indexOf("]", i)
      source += clean.slice(i, end + 1).replace(/^\[!/, "[^")
      i = end
    } else source += c.replace(/[.+^${}()|\\]/g, "\\$&")
  }
  return new RegExp(`^${source}$`)
}

const ignoreRules = read(".dockerignore")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"))
  .map((line) => ({ negated: line.startsWith("!"), regex: ignoreRegex(line.replace(/^!/, "")) }))

/** Whether Docker leaves `path` (relative, slash-separated) out of the build context. */
const ignored = (path: string) => {
  const prefixes = path.split("/").map((_, index, parts) => parts.slice(0, index + 1).join("/"))
  let excluded = false
  for (const rule of ignoreRules) if (prefixes.some((prefix) => rule.regex.test(prefix))) excluded = !rule.negated
  return excluded
}

const hasNegation = ignoreRules.some((rule) => rule.negated)

/** Every file `docker build` sends, relative to the repository root. */
const contextFiles = (() => {
  const files = new Set<string>()
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`
      if (entry.isDirectory()) {
        if (entry.name === ".git" || (ignored(path) && !hasNegation)) continue
        walk(path)
      } else if (!ignored(path)) files.add(path)
    }
  }
  walk("")
  return files
})()

const inContext = (path: string) => {
  const clean = posix
    .normalize(path)
    .replace(/^\.\/?/, "")
    .replace(/\/$/, "")
  if (clean === "" || clean === ".") return true
  return contextFiles.has(clean) || [...contextFiles].some((file) => file.startsWith(`${clean}/`))
}

check(".dockerignore leaves out installs, local data, secrets and VCS", [
  ...["node_modules", "packages/server/node_modules", ".tools", ".data", ".git", ".env", "packages/server/test"]
    .filter((path) => !ignored(path))
    .map((path) => `${path} would be sent to the build`)
])

// ---------------------------------------------------------------- the Dockerfile

interface Instruction {
  readonly keyword: string
  readonly args: string
  readonly line: number
}

const dockerfileText = read(dockerfilePath)
const instructions: Array<Instruction> = []
{
  const lines = dockerfileText.split("\n")
  let pending: { text: string; line: number } | undefined
  lines.forEach((raw, index) => {
    const line = raw.trimEnd()
    if (pending === undefined && (line.trim() === "" || line.trimStart().startsWith("#"))) return
    if (pending !== undefined && line.trimStart().startsWith("#")) return
    const text = line.endsWith("\\") ? line.slice(0, -1) : line
    pending =
      pending === undefined ? { text, line: index + 1 } : { text: `${pending.text} ${text.trim()}`, line: pending.line }
    if (!line.endsWith("\\")) {
      const match = /^\s*([A-Za-z]+)\s*(.*)$/.exec(pending.text)
      instructions.push({ keyword: (match?.[1] ?? "").toUpperCase(), args: match?.[2] ?? "", line: pending.line })
      pending = undefined
    }
  })
}

const known = new Set(
  "ADD ARG CMD COPY ENTRYPOINT ENV EXPOSE FROM HEALTHCHECK LABEL ONBUILD RUN SHELL STOPSIGNAL USER VOLUME WORKDIR".split(
    " "
  )
)
check(`${dockerfilePath} parses`, [
  ...instructions.filter((i) => !known.has(i.keyword)).map((i) => `line ${i.line}: unknown instruction ${i.keyword}`),
  ...(instructions[0]?.keyword === "ARG" || instructions[0]?.keyword === "FROM"
    ? []
    : ["does not start with FROM or ARG"])
])

/** The words of a shell-form argument list, or the items of an exec-form (JSON) one. */
const words = (text: string): Array<string> => {
  if (text.trim().startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(text)
      if (Array.isArray(parsed)) return parsed.map(String)
    } catch {
      return [text]
    }
  }
  return text.trim().split(/\s+/)
}

const globalArgs = new Map<string, string>()
for (const i of instructions) {
  if (i.keyword === "FROM") break
  if (i.keyword === "ARG") {
    const [name, value] = i.args.split("=")
    if (name !== undefined) globalArgs.set(name.trim(), (value ?? "").trim())
  }
}
const substitute = (text: string) =>
  text.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => globalArgs.get(name) ?? whole)

interface Stage {
  readonly name: string | undefined
  readonly base: string
  readonly body: Array<Instruction>
}
const stages: Array<Stage> = []
for (const i of instructions) {
  if (i.keyword === "FROM") {
    const [base = "", as, name] = words(i.args)
    stages.push({ base: substitute(base), name: as?.toUpperCase() === "AS" ? name : undefined, body: [] })
  } else stages.at(-1)?.body.push(i)
}
const runtime = stages.at(-1)
const packageJson = JSON.parse(read("package.json")) as {
  packageManager?: string
  engines?: { node?: string }
  devDependencies?: Record<string, string>
}

check("every stage is Node.js 24, as package.json's engines", [
  ...(stages.length >= 2 ? [] : ["not multi-stage: the runtime stage should not carry the build's tools"]),
  ...stages.filter((stage) => !/^node:24([-.]|$)/.test(stage.base)).map((stage) => `stage from ${stage.base}`),
  ...(packageJson.engines?.node?.includes("24") ? [] : [`engines.node is ${packageJson.engines?.node}`])
])

const copies = stages.flatMap((stage) =>
  stage.body
    .filter((i) => i.keyword === "COPY" || i.keyword === "ADD")
    .map((i) => {
      const parts = words(i.args)
      const flags = parts.filter((part) => part.startsWith("--"))
      const paths = parts.filter((part) => !part.startsWith("--"))
      return {
        line: i.line,
        from: flags.find((flag) => flag.startsWith("--from="))?.slice(7),
        sources: paths.slice(0, -1)
      }
    })
)
const stageNames = new Set(stages.flatMap((stage) => (stage.name === undefined ? [] : [stage.name])))
check("every COPY source is in the build context, every --from a stage", [
  ...copies.flatMap((copy) =>
    copy.from !== undefined
      ? stageNames.has(copy.from)
        ? []
        : [`line ${copy.line}: --from=${copy.from} is no stage`]
      : copy.sources
          .filter((source) => !inContext(source))
          .map((source) => `line ${copy.line}: ${source} is not in the build context`)
  ),
  ...(copies.some((copy) => copy.from !== undefined) ? [] : ["the runtime stage copies nothing from the build stage"])
])

const runtimeOf = (keyword: string) => runtime?.body.filter((i) => i.keyword === keyword) ?? []
const cmd = words(runtimeOf("CMD").at(-1)?.args ?? "")
const user = runtimeOf("USER").at(-1)?.args.trim()
const env = runtimeOf("ENV")
  .map((i) => i.args)
  .join(" ")
const healthcheck = runtimeOf("HEALTHCHECK").at(-1)?.args ?? ""
const runs = stages.flatMap((stage) => stage.body.filter((i) => i.keyword === "RUN").map((i) => i.args)).join("\n")
check("the runtime stage: non-root, port 8080, production, health check, exec-form CMD", [
  ...(user !== undefined && !/^(root|0)(:|$)/.test(user) ? [] : [`USER is ${user ?? "unset"} (root)`]),
  ...(runtimeOf("EXPOSE").some((i) => words(i.args).includes("8080")) ? [] : ["EXPOSE 8080 missing"]),
  ...(/\bHOST=0\.0\.0\.0\b/.test(env)
    ? []
    : ["ENV HOST=0.0.0.0 missing: the server would listen on the container's loopback"]),
  ...(/\bNODE_ENV=production\b/.test(env) ? [] : ["ENV NODE_ENV=production missing"]),
  ...(/\/api\/health/.test(healthcheck) && /\bnode\b/.test(healthcheck)
    ? []
    : ["no HEALTHCHECK asking /api/health with node"]),
  ...(runtimeOf("CMD").at(-1)?.args.trim().startsWith("[")
    ? []
    : ["CMD is not exec-form: a shell as PID 1 would not pass SIGTERM on"]),
  ...(cmd[0] === "node" && cmd[1] !== undefined && inContext(cmd[1])
    ? []
    : [`CMD ${cmd.join(" ")} does not run a file of the context`])
])

check("dependencies: pinned pnpm, the lockfile frozen, production only", [
  ...(packageJson.packageManager?.startsWith("pnpm@") ? [] : ["package.json has no packageManager pnpm@…"]),
  ...(/packageManager/.test(runs) ||
  (packageJson.packageManager !== undefined && runs.includes(packageJson.packageManager))
    ? []
    : ["pnpm is not installed at package.json's packageManager version"]),
  ...(/pnpm install[^\n]*--frozen-lockfile/.test(runs) ? [] : ["pnpm install without --frozen-lockfile"]),
  ...(/pnpm install[^\n]*--prod/.test(runs) ? [] : ["pnpm install without --prod"])
])

// Workspace packages: every importer of the lockfile must be in the context for `pnpm install --frozen-lockfile`.
const lockfile = parseYaml(read("pnpm-lock.yaml")) as { importers?: Record<string, unknown> }
check("every workspace package of the lockfile is in the build context", [
  ...Object.keys(lockfile.importers ?? {})
    .map((importer) => (importer === "." ? "package.json" : `${importer}/package.json`))
    .filter((manifest) => !contextFiles.has(manifest))
    .map((manifest) => `${manifest} is not sent`)
])

// ---------------------------------------------------------------- what the server imports at run time

interface Manifest {
  readonly name: string
  readonly dir: string
  readonly dependencies: Record<string, string>
  readonly exports: Record<string, string>
}
const manifests = new Map<string, Manifest>()
for (const entry of readdirSync(join(root, "packages"))) {
  const file = join(root, "packages", entry, "package.json")
  if (!existsSync(file)) continue
  const manifest = JSON.parse(readFileSync(file, "utf8")) as {
    name: string
    dependencies?: Record<string, string>
    exports?: Record<string, string>
  }
  manifests.set(manifest.name, {
    name: manifest.name,
    dir: `packages/${entry}`,
    dependencies: manifest.dependencies ?? {},
    exports: manifest.exports ?? {}
  })
}
const ownerOf = (file: string) => [...manifests.values()].find((manifest) => file.startsWith(`${manifest.dir}/`))

// Packages the Dockerfile deletes after the install (`rm -rf node_modules/.pnpm/<name>@*`).
const removed = new Set(
  [...runs.matchAll(/node_modules\/\.pnpm\/([^\s@*]+)@\*/g)].map((match) => (match[1] ?? "").replace("+", "/"))
)

const builtins = new Set(builtinModules)
const entryPoints = [cmd[1] ?? "", ...[...contextFiles].filter((file) => /^scripts\/[^/]+\.ts$/.test(file))]
const importProblems: Array<string> = []
let modulesReached = 0
const onDemand: Array<string> = []
{
  const seen = new Set<string>()
  const queue = entryPoints.filter((file) => file !== "")
  while (queue.length > 0) {
    const file = queue.pop() ?? ""
    if (seen.has(file)) continue
    seen.add(file)
    if (!contextFiles.has(file)) {
      importProblems.push(`${file} is imported at run time but not in the build context`)
      continue
    }
    const { code } = lex(read(file))
    const specifiers = [
      ...[...code.matchAll(/(?:^|[\s;])(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s*)?["']([^"']+)["']/g)].map(
        (match) => ({ specifier: match[1] ?? "", dynamic: false })
      ),
      ...[...code.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g)].map((match) => ({
        specifier: match[1] ?? "",
        dynamic: true
      }))
    ]
    for (const { specifier, dynamic } of specifiers) {
      if (specifier.startsWith(".")) {
        queue.push(posix.normalize(posix.join(posix.dirname(file), specifier)))
        continue
      }
      if (specifier.startsWith("node:") || builtins.has(specifier)) continue
      const parts = specifier.split("/")
      const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? "")
      const subpath = `.${specifier.slice(name.length)}`
      const owner = ownerOf(file)
      if (owner === undefined || owner.dependencies[name] === undefined) {
        importProblems.push(
          `${file} imports ${name}, not a production dependency of ${owner?.name ?? "the root package"}`
        )
        continue
      }
      const workspace = manifests.get(name)
      if (workspace !== undefined) {
        const target = workspace.exports[subpath]
        if (target === undefined) importProblems.push(`${file} imports ${specifier}, which ${name} does not export`)
        else queue.push(posix.normalize(posix.join(workspace.dir, target)))
      } else if (removed.has(name)) {
        if (dynamic) onDemand.push(`${name} (${file})`)
        else importProblems.push(`${file} imports ${name} statically, but the Dockerfile removes it`)
      }
    }
  }
  modulesReached = seen.size
  if (seen.size < 50)
    importProblems.push(`only ${seen.size} modules reached from ${entryPoints.join(", ")}: is the scan broken?`)
}
// Read from disk at run time rather than imported: the web UI's sources (bundled at start) and the tsconfig they extend.
const browserFiles = readdirSync(join(root, "packages"))
  .filter((entry) => existsSync(join(root, "packages", entry, "browser")))
  .flatMap((entry) => {
    const walk = (dir: string): Array<string> =>
      readdirSync(join(root, dir), { withFileTypes: true }).flatMap((item) =>
        item.isDirectory() ? walk(`${dir}/${item.name}`) : [`${dir}/${item.name}`]
      )
    return walk(`packages/${entry}/browser`)
  })
const browserTsconfigs = browserFiles.filter((file) => file.endsWith("tsconfig.json"))
const extended = browserTsconfigs.flatMap((file) => {
  const extendsPath = (JSON.parse(read(file)) as { extends?: string }).extends
  return extendsPath === undefined ? [] : [posix.normalize(posix.join(posix.dirname(file), extendsPath))]
})
check(`the files read at run time are in the image (${browserFiles.length} of the web UI, ${extended.join(", ")})`, [
  ...(browserFiles.length > 0 ? [] : ["no packages/*/browser/ found"]),
  ...[...browserFiles, ...extended]
    .filter((file) => !contextFiles.has(file))
    .map((file) => `${file} is not in the build context`)
])

check(
  `every module the server and scripts import is in the image (${modulesReached} from ${entryPoints.length} entry points), npm packages from its production install${
    onDemand.length > 0 ? ` (left out on purpose, imported only on demand: ${onDemand.join(", ")})` : ""
  }`,
  importProblems
)

// ---------------------------------------------------------------- the compose file

interface Service {
  readonly image?: string
  readonly build?: { readonly context?: string; readonly dockerfile?: string } | string
  readonly environment?: Record<string, string | number | boolean | null> | ReadonlyArray<string>
  readonly depends_on?: Record<string, { readonly condition?: string }> | ReadonlyArray<string>
  readonly healthcheck?: { readonly test?: ReadonlyArray<string> | string; readonly disable?: boolean }
  readonly ports?: ReadonlyArray<string>
  readonly profiles?: ReadonlyArray<string>
}
const composeText = read(composePath)
const compose = parseYaml(composeText, { merge: true }) as { services?: Record<string, Service> }
const services = compose.services ?? {}
const composeDir = dirname(join(root, composePath))

/** A compose value with its `${VAR:-default}` interpolations replaced by the defaults. */
const withDefaults = (value: string) =>
  value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, fallback: string | undefined) => fallback ?? "")

const environmentOf = (service: Service): Map<string, string> => {
  const entries = Array.isArray(service.environment)
    ? service.environment.map((item) => {
        const [key = "", ...rest] = String(item).split("=")
        return [key, rest.join("=")] as const
      })
    : Object.entries(service.environment ?? {}).map(([key, value]) => [key, String(value ?? "")] as const)
  return new Map(entries.map(([key, value]) => [key, withDefaults(value)]))
}

const appServices = Object.entries(services).filter(([, service]) => service.build !== undefined)
check(`${composePath}: the app's services build docker/Dockerfile from the repository root`, [
  ...(appServices.length > 0 ? [] : ["no service has a build section"]),
  ...appServices.flatMap(([name, service]) => {
    const build = typeof service.build === "string" ? { context: service.build } : (service.build ?? {})
    const context = resolve(composeDir, build.context ?? ".")
    const dockerfile = resolve(context, build.dockerfile ?? "Dockerfile")
    return [
      ...(context === resolve(root)
        ? []
        : [`${name}: context ${relative(root, context) || "."} is not the repository root`]),
      ...(existsSync(dockerfile) && statSync(dockerfile).isFile() ? [] : [`${name}: ${dockerfile} does not exist`]),
      ...(dockerfile === join(root, dockerfilePath) ? [] : [`${name}: builds ${dockerfile}`])
    ]
  })
])

const rolesOf = (name: string, service: Service) => {
  const value = environmentOf(service).get("ROLE")
  const parsed = Effect.runSync(
    Effect.result(Roles.config.parse(ConfigProvider.fromUnknown(value === undefined ? {} : { ROLE: value })))
  )
  if (parsed._tag === "Failure")
    return { name, roles: new Set<string>(), problem: `${name}: ROLE=${value} is refused by the server` }
  return { name, roles: new Set<string>(parsed.success), problem: undefined }
}
const roles = appServices.map(([name, service]) => rolesOf(name, service))
const withRole = (role: string) => roles.filter((entry) => entry.roles.has(role)).map((entry) => entry.name)
check("every role runs in a service of its own", [
  ...roles.flatMap((entry) => (entry.problem === undefined ? [] : [entry.problem])),
  ...["api", "workers", "simulators"]
    .filter((role) => withRole(role).length !== 1)
    .map((role) => `role ${role} runs in ${withRole(role).length} services`)
])

const healthy = (service: Service | undefined) =>
  service?.healthcheck !== undefined && service.healthcheck.disable !== true && service.healthcheck.test !== undefined
check("health checks: every app service has one, every dependency waits for one", [
  ...appServices
    .filter(([, service]) => !JSON.stringify(service.healthcheck?.test ?? "").includes("/api/health"))
    .map(([name]) => `${name}: no health check asking /api/health`),
  ...Object.entries(services).flatMap(([name, service]) => {
    const dependsOn = service.depends_on ?? {}
    const entries = Array.isArray(dependsOn)
      ? dependsOn.map((target) => [target, {}] as const)
      : Object.entries(dependsOn)
    return entries.flatMap(([target, options]) => [
      ...(services[target] === undefined ? [`${name} depends on ${target}, which is no service`] : []),
      ...((options as { condition?: string }).condition === "service_healthy"
        ? []
        : [`${name} → ${target}: not condition: service_healthy`]),
      ...(healthy(services[target]) ? [] : [`${name} → ${target}: ${target} has no health check`]),
      ...((services[target]?.profiles?.length ?? 0) > 0
        ? [`${name} → ${target}: ${target} only runs with a profile`]
        : [])
    ])
  })
])

const scan = scanRepository(root)
const readNames = new Set(scan.reads.map((entry) => entry.name))
check("every variable the app's services set is one the code reads", [
  ...appServices.flatMap(([name, service]) =>
    [...environmentOf(service).keys()]
      .filter((key) => !readNames.has(key))
      .map((key) => `${name}: ${key} is read by no code`)
  )
])

const envOfRole = (role: string) => {
  const name = withRole(role)[0]
  return name === undefined ? new Map<string, string>() : environmentOf(services[name] ?? {})
}
const hostOf = (url: string | undefined) => (url === undefined ? undefined : URL.parse(url)?.hostname)
const [api, workers, simulators] = [envOfRole("api"), envOfRole("workers"), envOfRole("simulators")]
check("the split roles are wired: stores, broker, provider, callbacks, shared secrets", [
  ...["DATABASE_URL", "REDIS_URL"].flatMap((key) =>
    api.get(key) !== undefined && api.get(key) === workers.get(key)
      ? []
      : [`${key} is not the same for api and workers`]
  ),
  ...[workers, simulators].flatMap((env, index) =>
    env.get("AMQP_URL") || env.get("KAFKA_BROKERS")
      ? []
      : [`${index === 0 ? "workers" : "simulators"}: no broker (AMQP_URL or KAFKA_BROKERS)`]
  ),
  ...(workers.get("AMQP_URL") === simulators.get("AMQP_URL")
    ? []
    : ["workers and simulators use different RabbitMQ URLs"]),
  ...(withRole("simulators").includes(hostOf(workers.get("PAYMENT_PROVIDER_URL")) ?? "")
    ? []
    : [`workers: PAYMENT_PROVIDER_URL=${workers.get("PAYMENT_PROVIDER_URL")} is not the simulators' service`]),
  ...(workers.get("PAYMENT_PROVIDER_URL")?.endsWith("/sim/payment-provider")
    ? []
    : ["workers: PAYMENT_PROVIDER_URL is not /sim/payment-provider"]),
  ...(withRole("api").includes(hostOf(workers.get("PUBLIC_URL")) ?? "")
    ? []
    : [`workers: PUBLIC_URL=${workers.get("PUBLIC_URL")} is not the api's service`]),
  ...["JWT_SECRET", "PAYMENT_PROVIDER_SECRET"].flatMap((key) =>
    [api, workers, simulators].every((env) => env.get(key) !== undefined && env.get(key) === api.get(key))
      ? []
      : [`${key} is not set alike on every app service`]
  ),
  ...(Buffer.byteLength(api.get("JWT_SECRET") ?? "") >= 32 ? [] : ["JWT_SECRET's default is shorter than 32 bytes"]),
  ...(api.get("ADMIN_EMAIL") && api.get("ADMIN_PASSWORD") ? [] : ["api: no admin (ADMIN_EMAIL, ADMIN_PASSWORD)"]),
  ...(appServices.some(
    ([name, service]) => withRole("api").includes(name) && service.ports?.some((port) => String(port).endsWith(":8080"))
  )
    ? []
    : ["the api does not publish port 8080"])
])

check("every $VAR interpolation in the compose file has a default, so `up` needs no .env", [
  ...[...composeText.matchAll(/\$\{(\w+)([^}]*)\}/g)]
    .filter((match) => !/^:?-/.test(match[2] ?? ""))
    .map((match) => `\${${match[1]}${match[2]}} has no default`)
])

const kafka = services.kafka
check("Kafka instead of RabbitMQ: the kafka profile, its listener at kafka:9092", [
  ...(kafka === undefined ? ["no kafka service"] : []),
  ...(kafka?.profiles?.includes("kafka") ? [] : ["kafka has no `kafka` profile"]),
  ...(environmentOf(kafka ?? {})
    .get("KAFKA_ADVERTISED_LISTENERS")
    ?.includes("kafka:9092")
    ? []
    : ["kafka does not advertise kafka:9092"]),
  ...(/KAFKA_BROKERS=kafka:9092/.test(composeText)
    ? []
    : ["the header does not say how to switch (KAFKA_BROKERS=kafka:9092)"])
])

// ---------------------------------------------------------------- the tools, where installed

const run = (command: string, commandArgs: ReadonlyArray<string>, options: { cwd?: string; input?: string } = {}) =>
  spawnSync(command, commandArgs, {
    cwd: options.cwd ?? root,
    input: options.input,
    encoding: "utf8",
    timeout: 600_000
  })

const compose1 = run("docker-compose", ["version", "--short"])
if (compose1.error !== undefined || compose1.status !== 0) {
  skip("docker-compose config (Compose v1)", "docker-compose is not installed (Debian: apt-get install docker-compose)")
} else {
  // Compose v1 (1.29) predates the top-level `name`; everything else is checked by its schema and its interpolation.
  const result = run("docker-compose", ["-f", "-", "config", "--quiet"], {
    cwd: composeDir,
    input: composeText.replace(/^name:.*\n/m, "")
  })
  check(`docker-compose ${compose1.stdout.trim()} config (without the top-level name, which v1 does not know)`, [
    ...(result.status === 0 ? [] : [result.stderr.trim() || `exit ${result.status}`])
  ])
  const kafkaMode = run("docker-compose", ["-f", "-", "--profile", "kafka", "config"], {
    cwd: composeDir,
    input: composeText.replace(/^name:.*\n/m, "").replace(/\$\{KAFKA_BROKERS:-\}/g, "kafka:9092")
  })
  check("docker-compose config with the kafka profile and KAFKA_BROKERS=kafka:9092", [
    ...(kafkaMode.status === 0 &&
    /KAFKA_BROKERS: kafka:9092/.test(kafkaMode.stdout) &&
    /^ {2}kafka:$/m.test(kafkaMode.stdout)
      ? []
      : [kafkaMode.stderr.trim() || "kafka or KAFKA_BROKERS missing from the resolved configuration"])
  ])
}

const compose2 = run("docker", ["compose", "version", "--short"])
if (compose2.error !== undefined || compose2.status !== 0) {
  skip("docker compose config (Compose v2)", "the docker compose plugin is not installed")
} else {
  const result = run("docker", ["compose", "-f", composePath, "config", "--quiet"])
  check(`docker compose ${compose2.stdout.trim()} config`, [...(result.status === 0 ? [] : [result.stderr.trim()])])
}

if (!args.includes("--build")) {
  skip("docker build and run", "pass --build (needs a Docker engine)")
} else if (run("docker", ["info", "--format", "{{.ServerVersion}}"]).status !== 0) {
  check("docker build and run", ["--build: no Docker engine answers (docker info failed)"])
} else {
  const network = args[args.indexOf("--network") + 1]
  const tag = "agora:check-docker"
  const build = run("docker", [
    "build",
    ...(args.includes("--network") && network !== undefined ? ["--network", network] : []),
    "-f",
    dockerfilePath,
    "-t",
    tag,
    "."
  ])
  check(
    `docker build -f ${dockerfilePath} .`,
    build.status === 0 ? [] : [build.stderr.trim().split("\n").slice(-15).join("\n")]
  )
  if (build.status === 0) {
    // The simulators alone need no database, Redis nor broker: the image's own health check decides.
    const name = `agora-check-docker-${process.pid}`
    const started = run("docker", ["run", "-d", "--name", name, "--network", "none", "-e", "ROLE=simulators", tag])
    const problems: Array<string> = started.status === 0 ? [] : [started.stderr.trim()]
    let health = ""
    const deadline = Date.now() + 90_000
    while (problems.length === 0 && Date.now() < deadline) {
      health = run("docker", ["inspect", "--format", "{{.State.Health.Status}} {{.State.Status}}", name]).stdout.trim()
      if (health.startsWith("healthy") || health.endsWith("exited")) break
      spawnSync("sleep", ["1"])
    }
    if (problems.length === 0 && !health.startsWith("healthy")) problems.push(`not healthy: ${health}`)
    const whoami = run("docker", ["exec", name, "id", "-u"]).stdout.trim()
    if (problems.length === 0 && (whoami === "0" || whoami === "")) problems.push(`runs as uid ${whoami || "?"}`)
    const stopAt = Date.now()
    run("docker", ["stop", "--time", "20", name])
    const stopped = run("docker", ["inspect", "--format", "{{.State.ExitCode}}", name]).stdout.trim()
    if (stopped === "137") problems.push("SIGTERM did not stop it: killed after 20 s")
    const logs = run("docker", ["logs", name])
    run("docker", ["rm", "-f", name])
    check(
      `the image runs (ROLE=simulators, uid ${whoami}): healthy, then stopped by SIGTERM in ${Date.now() - stopAt} ms (exit ${stopped})`,
      problems.length === 0 ? [] : [...problems, ...`${logs.stdout}${logs.stderr}`.trim().split("\n").slice(-10)]
    )
  }
}

console.log(`check:docker: ${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exitCode = failed > 0 ? 1 : 0
