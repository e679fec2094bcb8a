/**
 * The actor runtime's metrics (Effect `Metric`s, exported by the server's
 * `/metrics`): commands handled, activations, conflicts, passivations, and the
 * number of commands waiting in mailboxes.
 */
import { Metric } from "effect"

export const commands = Metric.counter("agora_actor_commands_total", {
  description: "Commands handled by actors, by outcome",
  incremental: true
})
export const activations = Metric.counter("agora_actor_activations_total", {
  description: "Actor instances activated from a snapshot and/or their stream",
  incremental: true
})
export const conflicts = Metric.counter("agora_actor_conflicts_total", {
  description: "Appends that met another writer's version and were decided again",
  incremental: true
})
export const passivations = Metric.counter("agora_actor_passivations_total", {
  description: "Actor instances dropped from memory (idle or over the memory bound)",
  incremental: true
})
export const mailboxDepth = Metric.gauge("agora_actor_mailbox_depth", {
  description: "Commands waiting for or running in an actor"
})
