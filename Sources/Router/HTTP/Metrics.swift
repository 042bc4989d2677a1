/// `/metrics` in Prometheus' text format, names prefixed `tessera_`, units in the names.
enum Metrics {
  static func text(_ snapshot: ServingLoop.Snapshot) -> String {
    var lines: [String] = []
    func metric(_ name: String, _ type: String, _ help: String, _ value: Int) {
      lines.append("# HELP tessera_\(name) \(help)")
      lines.append("# TYPE tessera_\(name) \(type)")
      lines.append("tessera_\(name) \(value)")
    }
    metric("running_sequences", "gauge", "Sequences in the running batch.", snapshot.running)
    metric("queued_sequences", "gauge", "Sequences waiting to be admitted.", snapshot.queued)
    metric("kv_blocks_used", "gauge", "KV cache blocks in use.", snapshot.kvBlocksUsed)
    metric("kv_blocks_total", "gauge", "KV cache blocks in all.", snapshot.kvBlocksTotal)
    metric(
      "batch_sequences_max", "gauge", "The most sequences one step has carried.",
      snapshot.largestBatch)
    metric("steps_total", "counter", "Engine steps run.", snapshot.steps)
    metric(
      "preemptions_total", "counter", "Sequences preempted (recomputed) for KV blocks.",
      snapshot.preemptions)
    metric("prompt_tokens_total", "counter", "Prompt tokens admitted.", snapshot.promptTokens)
    metric("generated_tokens_total", "counter", "Tokens generated.", snapshot.generatedTokens)
    metric(
      "workers_up", "gauge", "Workers of the plan ready (0 when one process holds the model).",
      snapshot.workersUp)
    return lines.joined(separator: "\n") + "\n"
  }
}
