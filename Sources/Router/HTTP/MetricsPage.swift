import ContextCache
import Core
import RedisClient

/// The text `/metrics` serves: the serving loop's figures (read from its snapshot at scrape
/// time), Redis's health, the fragment cache's and the journal's counters, then the
/// swift-metrics registry's.
enum MetricsPage {
  /// The whole exposition: the loop's figures, then the registry's.
  static func text(
    _ snapshot: ServingLoop.Snapshot, fragments: FragmentStats? = nil,
    journal: RequestJournal? = nil, redis: RedisClient? = nil
  ) -> String {
    loopText(snapshot) + (redis.map(redisText) ?? "") + (fragments.map(fragmentText) ?? "")
      + (journal.map(journalText) ?? "") + RouterMetrics.registry.emitToString()
  }

  /// Whether the `--redis` Redis answered its last call (no network: the client's health),
  /// as `/ready`'s `degraded` says it.
  static func redisText(_ redis: RedisClient) -> String {
    let failing = redis.health.consecutiveFailures > 0
    var text = Exposition()
    text.add(
      "redis_up", "gauge", "1 while the --redis Redis answers; 0 while serving without it.",
      failing ? 0 : 1)
    text.add(
      "degraded", "gauge", "1 while the router serves without a part that is not essential.",
      failing ? 1 : 0)
    return text.text
  }

  /// Request state's counters (when it is on).
  static func journalText(_ journal: RequestJournal) -> String {
    var text = Exposition()
    text.add(
      "request_state_writes_total", "counter",
      "Request-state transactions written to Redis (one per token per request, and the ends).",
      journal.written.load(ordering: .relaxed))
    text.add(
      "request_state_failures_total", "counter",
      "Rounds of request-state writes Redis did not take (written whole later).",
      journal.failures.load(ordering: .relaxed))
    text.add(
      "request_state_takeovers_total", "counter",
      "Unfinished requests this router took over from a dead router (or its earlier run).",
      journal.takeovers.load(ordering: .relaxed))
    return text.text
  }

  /// The context-fragment cache's counters (when prefix reuse is on).
  static func fragmentText(_ stats: FragmentStats) -> String {
    var text = Exposition()
    func metric(_ name: String, _ help: String, _ value: some CustomStringConvertible) {
      text.add("prefix_cache_" + name, "counter", help, value)
    }
    metric("lookups_total", "Prompts looked up.", stats.lookups.current)
    metric(
      "hit_tokens_total", "Prompt tokens loaded from the cache instead of computed.",
      stats.hitTokens.current)
    metric("local_hit_blocks_total", "Blocks found in memory.", stats.localHits.current)
    metric(
      "partial_misses_total", "Lookups cut short by a missing or damaged part.",
      stats.partialMisses.current)
    metric("missing_parts_total", "Parts Redis did not have.", stats.missingParts.current)
    metric("damaged_parts_total", "Parts that failed their checks.", stats.damagedParts.current)
    metric("read_bytes_total", "Bytes of parts read from Redis.", stats.bytesRead.current)
    metric("written_bytes_total", "Bytes of parts written to Redis.", stats.bytesWritten.current)
    metric("redis_errors_total", "Redis calls that failed.", stats.redisErrors.current)
    metric(
      "skipped_writes_total", "Blocks not written to Redis because too many writes waited.",
      stats.skippedWrites.current)
    metric("redis_round_trips_total", "Redis round trips.", stats.roundTrips.current)
    metric(
      "redis_seconds_total", "Seconds spent in Redis round trips.",
      String(format: "%.6f", Double(stats.roundTripMicroseconds.current) / 1e6))
    return text.text
  }

  /// The serving loop's figures, read from its snapshot at scrape time.
  static func loopText(_ snapshot: ServingLoop.Snapshot) -> String {
    var text = Exposition()
    text.add("running_sequences", "gauge", "Sequences in the running batch.", snapshot.running)
    text.add("queued_sequences", "gauge", "Sequences waiting to be admitted.", snapshot.queued)
    text.add("kv_blocks_used", "gauge", "KV cache blocks in use.", snapshot.kvBlocksUsed)
    text.add("kv_blocks_total", "gauge", "KV cache blocks in all.", snapshot.kvBlocksTotal)
    text.add(
      "batch_sequences_max", "gauge", "The most sequences one step has carried.",
      snapshot.largestBatch)
    text.add("steps_total", "counter", "Engine steps run.", snapshot.steps)
    text.add(
      "preemptions_total", "counter", "Sequences preempted (recomputed) for KV blocks.",
      snapshot.preemptions)
    text.add("prompt_tokens_total", "counter", "Prompt tokens admitted.", snapshot.promptTokens)
    text.add("generated_tokens_total", "counter", "Tokens generated.", snapshot.generatedTokens)
    text.add(
      "workers_up", "gauge", "Workers of the plan ready (0 when one process holds the model).",
      snapshot.workersUp)
    text.add(
      "replayed_sequences_total", "counter",
      "Sequences computed again after a lost worker took their state.",
      snapshot.replayedSequences)
    if let cluster = snapshot.cluster {
      text.add(
        "replans_total", "counter", "New plans made after workers were lost, or to grow back.",
        cluster.replans)
      text.add(
        "worker_failures_total", "counter",
        "Workers lost, by reason (silent: no heartbeat; disconnected; rejoined; failed; hung; "
          + "link: a connection between workers was reset or a peer's message never came).",
        labelled: "reason",
        ["silent", "disconnected", "rejoined", "failed", "hung", "link"].map {
          ($0, cluster.failures[$0] ?? 0)
        })
      text.add(
        "standby_workers", "gauge", "Workers outside the plan, ready to take a slot.",
        cluster.standbys.count)
      text.add(
        "curve_refused_total", "counter",
        "Clients refused for a Curve key that is not authorized, by plane (control: the "
          + "router's socket; data: the workers' data planes).",
        labelled: "plane", ["control", "data"].map { ($0, cluster.curveRefused[$0] ?? 0) })
    }
    return text.text
  }
}

/// Metrics in the Prometheus text format, each with HELP and TYPE, named `tessera_…`.
struct Exposition {
  private var lines: [String] = []

  mutating func add(
    _ name: String, _ type: String, _ help: String, _ value: some CustomStringConvertible
  ) {
    lines += [
      "# HELP tessera_\(name) \(help)", "# TYPE tessera_\(name) \(type)",
      "tessera_\(name) \(value)",
    ]
  }

  /// One metric with a label, a line per value.
  mutating func add(
    _ name: String, _ type: String, _ help: String, labelled label: String,
    _ values: [(String, Int)]
  ) {
    lines += ["# HELP tessera_\(name) \(help)", "# TYPE tessera_\(name) \(type)"]
    lines += values.map { "tessera_\(name){\(label)=\"\($0.0)\"} \($0.1)" }
  }

  var text: String { lines.joined(separator: "\n") + "\n" }
}
