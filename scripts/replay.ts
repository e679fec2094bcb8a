/**
 * `pnpm replay --from POSITION`: prints the global event log from a position,
 * filtered (see packages/server/src/scripts/Replay.ts, or `pnpm replay
 * --help`), on the database the server would use: `DATABASE_URL`, or the
 * embedded PostgreSQL in `.data/pg` (stop the server first: it owns that database).
 */
import { main } from "../packages/server/src/scripts/Cli.ts"
import { layer } from "../packages/server/src/scripts/Rebuild.ts"
import { script } from "../packages/server/src/scripts/Replay.ts"

main(script, layer)
