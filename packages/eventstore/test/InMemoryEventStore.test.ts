import { InMemoryEventStore } from "../src/index.ts"
import { eventStoreContract } from "./EventStoreContract.ts"

eventStoreContract("in-memory", InMemoryEventStore.layer({ pollInterval: "50 millis" }))
