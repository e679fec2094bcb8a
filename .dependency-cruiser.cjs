/**
 * The one-way dependency rule (STYLE.md: domain ← application ← adapters ← server),
 * checked by `pnpm lint`. Rules for packages that do not exist yet are kept so the
 * boundary holds from the first file.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A cycle makes the layers' build order and the modules' load order fragile.",
      from: {},
      to: { circular: true }
    },
    {
      name: "domain-is-pure",
      severity: "error",
      comment: "Domain code imports only effect and its own files: no IO, no Node built-ins, no other package.",
      from: { path: "^packages/domain/src/" },
      to: {
        pathNot: ["^packages/domain/src/", "(^|/)node_modules/effect/"]
      }
    },
    {
      name: "eventstore-not-to-server",
      severity: "error",
      comment:
        "The event store is an adapter; only the server (the composition root) may depend on it, never the reverse.",
      from: { path: "^packages/eventstore/src/" },
      to: { path: "^packages/server/" }
    },
    {
      name: "no-server-imports",
      severity: "error",
      comment: "The server is the composition root: no package imports it (its tests and the root scripts may).",
      from: { path: "^packages/(?!server/)[^/]+/" },
      to: { path: "^packages/server/" }
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "An import that does not resolve is a missing dependency or a typo.",
      from: {},
      to: { couldNotResolve: true }
    },
    {
      name: "no-undeclared-dependencies",
      severity: "error",
      comment: "A package may only import packages its own package.json declares.",
      from: { path: "^packages/" },
      to: { dependencyTypes: ["npm-no-pkg", "npm-unknown"] }
    }
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|\\.tools|\\.data)/" },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json"]
    },
    builtInModules: { add: [] }
  }
}
