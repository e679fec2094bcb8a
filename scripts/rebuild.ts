/**
 * `pnpm rebuild [PROJECTION|all]`: rebuilds read models from the event store
 * blue/green, compares, switches (see packages/server/src/scripts/Rebuild.ts,
 * or `pnpm rebuild --help`). Events from `DATABASE_URL` or the embedded
 * PostgreSQL in `.data/pg`; read models in Redis at `REDIS_URL`.
 */
import { main } from "../packages/server/src/scripts/Cli.ts"
import { layer, script } from "../packages/server/src/scripts/Rebuild.ts"

main(script, layer)
