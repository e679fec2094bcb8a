/**
 * `pnpm inspect STREAM`: a stream's events, its snapshot and its folded state
 * (see packages/server/src/scripts/Inspect.ts, or `pnpm inspect --help`), on
 * the database the server would use: `DATABASE_URL`, or the embedded
 * PostgreSQL in `.data/pg` (stop the server first: it owns that database).
 */
import { main, Stores } from "../packages/server/src/scripts/Cli.ts"
import { script } from "../packages/server/src/scripts/Inspect.ts"

main(script, Stores)
