import Core
import Foundation
import RedisClient

/// Request state in Redis: the real store. Under `prefix` (`tessera:req:v1`):
///
///     <prefix>:<id>             hash: spec, status, events (count), choice:<i> (progress),
///                               usage, error
///     <prefix>:<id>:events      stream: one entry per SSE event, entry id 0-<n+1>, field d
///     <prefix>:<id>:tokens:<i>  string: choice i's generated tokens, 4 bytes little-endian each
///     <prefix>:<id>:text:<i>    string: choice i's text so far
///     <prefix>:<id>:lease       string: the owning router's name, with a TTL (the lease)
///     <prefix>:active           set: the ids of unfinished requests
///
/// Nothing of an unfinished request has a TTL, so a `volatile-lru` Redis never evicts it;
/// once it ends, all its keys get `ttl`.
struct RedisRequestStore: RequestStore {
  let redis: RedisClient
  let prefix: String
  /// This router's name, written into the leases it holds.
  let owner: String
  /// Seconds a finished request's keys live.
  let ttl: Int
  let leaseMilliseconds: Int

  var isDurable: Bool { true }
  static var maxChoices: Int { StoredLimits.maxChoices }
  static var maxCount: Int { StoredLimits.maxCount }

  func hashKey(_ id: String) -> [UInt8] { bytes("\(prefix):\(id)") }
  func eventsKey(_ id: String) -> [UInt8] { bytes("\(prefix):\(id):events") }
  func tokensKey(_ id: String, _ choice: Int) -> [UInt8] {
    bytes("\(prefix):\(id):tokens:\(choice)")
  }
  func textKey(_ id: String, _ choice: Int) -> [UInt8] { bytes("\(prefix):\(id):text:\(choice)") }
  func leaseKey(_ id: String) -> [UInt8] { bytes("\(prefix):\(id):lease") }
  var activeKey: [UInt8] { bytes("\(prefix):active") }

  // MARK: Writing

  /// Every unit as one MULTI/EXEC transaction, all in one pipeline.
  func write(_ units: [JournalUnit]) throws(RequestStateError) -> [Bool] {
    let transactions = units.map(transaction)
    let replies: [RedisReply]
    do {
      replies = try redis.pipeline(transactions.flatMap { $0 })
    } catch {
      throw .unavailable("\(error)")
    }
    var at = 0
    return zip(units, transactions).map { unit, commands in
      let reply = replies[at + commands.count - 1]  // EXEC's
      at += commands.count
      return Self.transactionTook(reply, checksState: unit.checksState)
    }
  }

  /// One unit as one transaction: MULTI, its commands, EXEC.
  func transaction(_ unit: JournalUnit) -> [[[UInt8]]] {
    let id = unit.requestID
    let hash = hashKey(id)
    var commands: [[[UInt8]]] = [[bytes("MULTI")]]
    if unit.checksState { commands.append([bytes("EXISTS"), hash]) }
    for (offset, payload) in unit.events.enumerated() {
      // Explicit entry ids: an event written twice is refused, not duplicated.
      commands.append([
        bytes("XADD"), eventsKey(id), bytes("0-\(unit.firstEvent + offset + 1)"), bytes("d"),
        payload,
      ])
    }
    let eventCount = bytes(String(unit.firstEvent + unit.events.count))
    let spec = unit.log.spec
    switch unit.kind {
    case .create:
      commands.append([
        bytes("HSET"), hash, bytes("spec"), json(spec), bytes("status"),
        bytes(RequestStatus.running.rawValue), bytes("events"), eventCount,
      ])
      commands += holding(id)
    case .progress(let progress, let tokens, let text):
      let choice = progress.index
      if !tokens.isEmpty {
        let at = progress.generated - tokens.count
        commands.append([
          bytes("SETRANGE"), tokensKey(id, choice), bytes(String(at * 4)),
          TokenBytes.encode(tokens),
        ])
      }
      if !text.isEmpty {
        let at = progress.sent - text.count
        commands.append([bytes("SETRANGE"), textKey(id, choice), bytes(String(at)), text])
      }
      commands.append([
        bytes("HSET"), hash, bytes("choice:\(choice)"), json(progress), bytes("events"), eventCount,
      ])
    case .end(let status, let usage, let error):
      var fields = [
        bytes("HSET"), hash, bytes("status"), bytes(status.rawValue), bytes("events"), eventCount,
      ]
      if let usage { fields += [bytes("usage"), json(usage)] }
      if let error { fields += [bytes("error"), bytes(error)] }
      commands.append(fields)
      commands += released(id, choices: spec.choices)
    case .handBack:
      commands.append([bytes("DEL"), leaseKey(id)])
    case .whole(
      let status, let progress, let tokens, let texts, let usage, let error, let ended,
      let handedBack):
      var fields = [
        bytes("HSET"), hash, bytes("spec"), json(spec), bytes("status"), bytes(status.rawValue),
        bytes("events"), eventCount,
      ]
      for (choice, progress) in progress.enumerated() {
        if let progress { fields += [bytes("choice:\(choice)"), json(progress)] }
      }
      if let usage { fields += [bytes("usage"), json(usage)] }
      if let error { fields += [bytes("error"), bytes(error)] }
      commands.append(fields)
      for choice in 0..<spec.choices {
        commands.append([bytes("SET"), tokensKey(id, choice), TokenBytes.encode(tokens[choice])])
        commands.append([bytes("SET"), textKey(id, choice), Array(texts[choice].utf8)])
      }
      if ended {
        commands += released(id, choices: spec.choices)
      } else if handedBack {
        commands += [[bytes("SADD"), activeKey, bytes(id)], [bytes("DEL"), leaseKey(id)]]
      } else {
        commands += holding(id)
      }
    }
    commands.append([bytes("EXEC")])
    return commands
  }

  /// The request is this router's and unfinished.
  private func holding(_ id: String) -> [[[UInt8]]] {
    [
      [bytes("SET"), leaseKey(id), bytes(owner), bytes("PX"), bytes(String(leaseMilliseconds))],
      [bytes("SADD"), activeKey, bytes(id)],
    ]
  }

  /// The request ended: out of the active set, no lease, every key with the TTL.
  private func released(_ id: String, choices: Int) -> [[[UInt8]]] {
    let commands = [[bytes("SREM"), activeKey, bytes(id)], [bytes("DEL"), leaseKey(id)]]
    return commands + expiring(id, choices: choices)
  }

  /// Whether a transaction's EXEC reply says it ran (and, for a unit that checks it, that the
  /// request's state was there).
  static func transactionTook(_ exec: RedisReply, checksState: Bool) -> Bool {
    guard case .array(let replies) = exec else { return false }  // EXECABORT, OOM, LOADING…
    return !checksState || replies.first == .integer(1)
  }

  /// EXPIRE with the TTL for every key of a request (the hash, the stream, each choice's
  /// tokens and text).
  func expiring(_ id: String, choices: Int) -> [[[UInt8]]] {
    var keys = [hashKey(id), eventsKey(id)]
    for choice in 0..<choices { keys += [tokensKey(id, choice), textKey(id, choice)] }
    return keys.map { [bytes("EXPIRE"), $0, bytes(String(ttl))] }
  }

  /// Extends this router's leases on `ids`, taking back any that vanished; never touches a
  /// lease another router holds. One round trip (a script per id: compare, then extend).
  func checkLeases(_ ids: [String]) throws(RequestStateError) -> [String: LeaseCheck] {
    guard !ids.isEmpty else { return [:] }
    let script = """
      local holder = redis.call('GET', KEYS[1])
      if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
      if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
      return 0
      """
    let replies = try redisCall { () throws(RedisError) in
      try redis.pipeline(
        ids.map {
          [
            bytes("EVAL"), bytes(script), bytes("1"), leaseKey($0), bytes(owner),
            bytes(String(leaseMilliseconds)),
          ]
        })
    }
    var checks: [String: LeaseCheck] = [:]
    for (id, reply) in zip(ids, replies) {
      // A reply that is no number (Redis still loading, a script error) says nothing about
      // the lease: the whole check failed, never "another router holds it".
      switch try redisCall({ () throws(RedisError) in try reply.integer() }) {
      case 1: checks[id] = .held
      case 2: checks[id] = .retaken
      default: checks[id] = .lost
      }
    }
    return checks
  }

  /// Lets go of a request this router claimed but will not run: it had ended meanwhile (its
  /// end already took it out of the active set), so only the claim goes.
  func release(_ id: String) throws(RequestStateError) {
    _ = try redisCall { () throws(RedisError) in
      try redis.pipeline([[bytes("SREM"), activeKey, bytes(id)], [bytes("DEL"), leaseKey(id)]])
    }
  }

  func leaseCommand(_ id: String, condition: String) -> [[UInt8]] {
    [
      bytes("SET"), leaseKey(id), bytes(owner), bytes(condition), bytes("PX"),
      bytes(String(leaseMilliseconds)),
    ]
  }

  /// Ends a request whose state cannot be used: failed, with the reason, out of the active set.
  /// Every key of it gets the TTL (the choices' keys up to the most a spec may have).
  func markFailed(_ id: String, reason: String) throws(RequestStateError) {
    let commands = [
      [
        bytes("HSET"), hashKey(id), bytes("status"), bytes(RequestStatus.failed.rawValue),
        bytes("error"), bytes(reason),
      ],
      [bytes("SREM"), activeKey, bytes(id)], [bytes("DEL"), leaseKey(id)],
    ]
    _ = try redisCall { () throws(RedisError) in
      try redis.pipeline(commands + expiring(id, choices: Self.maxChoices))
    }
  }

  /// Cancels a request nobody runs (no lease): true if it was one. Its stream gets no
  /// `[DONE]` (nothing ran it to an end); readers see the status.
  func cancelOrphan(_ id: String) throws(RequestStateError) -> Bool {
    let claimed = try redisCall { () throws(RedisError) in
      try redis.command(leaseCommand(id, condition: "NX"))
    }
    guard claimed == .status("OK") else { return false }
    let commands = [
      [bytes("HSET"), hashKey(id), bytes("status"), bytes(RequestStatus.cancelled.rawValue)],
      [bytes("SREM"), activeKey, bytes(id)], [bytes("DEL"), leaseKey(id)],
    ]
    _ = try redisCall { () throws(RedisError) in
      try redis.pipeline(commands + expiring(id, choices: Self.maxChoices))
    }
    return true
  }

  func json(_ value: some Encodable) -> [UInt8] {
    (try? JSONEncoder().encode(value)).map(Array.init) ?? []
  }

  /// A Redis call whose failure is the store's `unavailable`.
  func redisCall<T>(_ body: () throws(RedisError) -> T) throws(RequestStateError) -> T {
    do {
      return try body()
    } catch {
      throw .unavailable("\(error)")
    }
  }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
