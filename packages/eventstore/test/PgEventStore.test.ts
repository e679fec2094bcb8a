import { TestDatabase } from "@agora/testkit"
import { Layer } from "effect"
import { PgEventStore } from "../src/index.ts"
import { eventStoreContract } from "./EventStoreContract.ts"

eventStoreContract(
  "PostgreSQL",
  PgEventStore.layer({ pollInterval: "200 millis" }).pipe(Layer.provide(TestDatabase.layer("contract")), Layer.orDie)
)
