/**
 * Seeds the demo data (admin from configuration, the demo catalog of ten car
 * parts) into the database the server would use: `DATABASE_URL`, or the
 * embedded PostgreSQL in `.data/pg` when it is unset (stop the server first:
 * it owns that database while it runs, and seeds it on start anyway).
 */
import { run } from "../packages/server/src/Seed.ts"

run()
