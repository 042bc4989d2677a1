import Core
import Foundation
import RedisClient

/// Request state in Redis. Under `prefix` (`tessera:req:v1`):
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
struct RequestStore: Sendable {
  let redis: RedisClient
  let prefix: String
  /// This router's name, written into the leases it holds.
  let owner: String
  /// Seconds a finished request's keys live.
  let ttl: Int
  let leaseMilliseconds: Int

  /// Bounds on what a stored record may say (a spec allows at most 8 choices, and no count
  /// comes near 2^31); anything outside is damage, never arithmetic that could overflow.
  static let maxChoices = 64
  static let maxCount = Int(Int32.max)

  func hashKey(_ id: String) -> [UInt8] { bytes("\(prefix):\(id)") }
  func eventsKey(_ id: String) -> [UInt8] { bytes("\(prefix):\(id):events") }
  func tokensKey(_ id: String, _ choice: Int) -> [UInt8] {
    bytes("\(prefix):\(id):tokens:\(choice)")
  }
  func textKey(_ id: String, _ choice: Int) -> [UInt8] { bytes("\(prefix):\(id):text:\(choice)") }
  func leaseKey(_ id: String) -> [UInt8] { bytes("\(prefix):\(id):lease") }
  var activeKey: [UInt8] { bytes("\(prefix):active") }

  // MARK: Writing

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

  enum LeaseCheck: Equatable {
    /// Still this router's; extended.
    case held
    /// It had vanished (expired, or Redis restarted empty); this router's again.
    case retaken
    /// Another router holds it.
    case lost
  }

  /// EXPIRE with the TTL for every key of a request (the hash, the stream, each choice's
  /// tokens and text).
  private func expiring(_ id: String, choices: Int) -> [[[UInt8]]] {
    var keys = [hashKey(id), eventsKey(id)]
    for choice in 0..<choices { keys += [tokensKey(id, choice), textKey(id, choice)] }
    return keys.map { [bytes("EXPIRE"), $0, bytes(String(ttl))] }
  }

  /// Extends this router's leases on `ids`, taking back any that vanished; never touches a
  /// lease another router holds. One round trip (a script per id: compare, then extend).
  func checkLeases(_ ids: [String]) throws(RedisError) -> [String: LeaseCheck] {
    guard !ids.isEmpty else { return [:] }
    let script = """
      local holder = redis.call('GET', KEYS[1])
      if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
      if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
      return 0
      """
    let replies = try redis.pipeline(
      ids.map {
        [
          bytes("EVAL"), bytes(script), bytes("1"), leaseKey($0), bytes(owner),
          bytes(String(leaseMilliseconds)),
        ]
      })
    var checks: [String: LeaseCheck] = [:]
    for (id, reply) in zip(ids, replies) {
      switch try reply.integer() {
      case 1: checks[id] = .held
      case 2: checks[id] = .retaken
      default: checks[id] = .lost
      }
    }
    return checks
  }

  /// Lets go of a request this router claimed but will not run: it had ended meanwhile (its
  /// end already took it out of the active set), so only the claim goes.
  func release(_ id: String) throws(RedisError) {
    _ = try redis.pipeline([[bytes("SREM"), activeKey, bytes(id)], [bytes("DEL"), leaseKey(id)]])
  }

  private func leaseCommand(_ id: String, condition: String) -> [[UInt8]] {
    [
      bytes("SET"), leaseKey(id), bytes(owner), bytes(condition), bytes("PX"),
      bytes(String(leaseMilliseconds)),
    ]
  }

  /// Ends a request whose state cannot be used: failed, with the reason, out of the active set.
  /// Every key of it gets the TTL (the choices' keys up to the most a spec may have).
  func markFailed(_ id: String, reason: String) throws(RedisError) {
    let commands = [
      [
        bytes("HSET"), hashKey(id), bytes("status"), bytes(RequestStatus.failed.rawValue),
        bytes("error"), bytes(reason),
      ],
      [bytes("SREM"), activeKey, bytes(id)], [bytes("DEL"), leaseKey(id)],
    ]
    _ = try redis.pipeline(commands + expiring(id, choices: Self.maxChoices))
  }

  /// Cancels a request nobody runs (no lease): true if it was one. Its stream gets no
  /// `[DONE]` (nothing ran it to an end); readers see the status.
  func cancelOrphan(_ id: String) throws(RedisError) -> Bool {
    let claimed = try redis.command(leaseCommand(id, condition: "NX"))
    guard claimed == .status("OK") else { return false }
    let commands = [
      [bytes("HSET"), hashKey(id), bytes("status"), bytes(RequestStatus.cancelled.rawValue)],
      [bytes("SREM"), activeKey, bytes(id)], [bytes("DEL"), leaseKey(id)],
    ]
    _ = try redis.pipeline(commands + expiring(id, choices: Self.maxChoices))
    return true
  }

  // MARK: Taking over

  /// Takes the unfinished requests (other than `except`) whose lease has expired, or is held
  /// in this router's name by an earlier run of it; returns their ids.
  func claimOrphans(except: Set<String>) throws(RedisError) -> [String] {
    let members = try redis.command([bytes("SMEMBERS"), activeKey])
    guard case .array(let items) = members else { return [] }
    let ids = items.compactMap { try? $0.bytes() }.compactMap { String(bytes: $0, encoding: .utf8) }
      .filter { !except.contains($0) }
    guard !ids.isEmpty else { return [] }
    let holders = try redis.pipeline(ids.map { [bytes("GET"), leaseKey($0)] })
    var claims: [(String, [[UInt8]])] = []
    for (id, holder) in zip(ids, holders) {
      switch try? holder.bytes() {
      case .none: claims.append((id, leaseCommand(id, condition: "NX")))
      case .some(let name) where name == bytes(owner):
        claims.append((id, leaseCommand(id, condition: "XX")))
      default: break  // another router's, still alive
      }
    }
    guard !claims.isEmpty else { return [] }
    let replies = try redis.pipeline(claims.map(\.1))
    return zip(claims, replies).filter { $0.1 == .status("OK") }.map(\.0.0)
  }

  // MARK: Reading

  func load(_ id: String) throws(RequestStateError) -> StoredRequest {
    let fields: [String: [UInt8]]
    do {
      fields = try hash(id)
    } catch {
      throw .unavailable("\(error)")
    }
    guard !fields.isEmpty else { throw .notFound(id) }
    func damaged(_ detail: String) -> RequestStateError { .damaged(id: id, detail: detail) }
    guard let specBytes = fields["spec"],
      let spec = try? JSONDecoder().decode(RequestSpec.self, from: Data(specBytes))
    else { throw damaged("no readable spec") }
    guard (1...Self.maxChoices).contains(spec.choices) else {
      throw damaged("\(spec.choices) choices")
    }
    guard (1...Self.maxCount).contains(spec.maxTokens), !spec.prompt.isEmpty,
      spec.prompt.count <= Self.maxCount
    else { throw damaged("a prompt of \(spec.prompt.count) tokens, max_tokens \(spec.maxTokens)") }
    guard let statusText = fields["status"].flatMap({ String(bytes: $0, encoding: .utf8) }),
      let status = RequestStatus(rawValue: statusText)
    else { throw damaged("no readable status") }
    guard let events = fields["events"].flatMap({ Int(String(decoding: $0, as: UTF8.self)) }),
      (0...Self.maxCount).contains(events)
    else { throw damaged("no event count in range") }
    let replies: [RedisReply]
    do {
      replies = try redis.pipeline(
        (0..<spec.choices).flatMap {
          [[bytes("GET"), tokensKey(id, $0)], [bytes("GET"), textKey(id, $0)]]
        })
    } catch {
      throw .unavailable("\(error)")
    }
    var stored = StoredRequest(
      spec: spec, status: status, events: events, progress: [], tokens: [], texts: [],
      usage: nil,
      error: fields["error"].map { String(decoding: $0, as: UTF8.self) })
    for choice in 0..<spec.choices {
      let progress = try fields["choice:\(choice)"].map { bytes throws(RequestStateError) in
        guard let value = try? JSONDecoder().decode(ChoiceProgress.self, from: Data(bytes)),
          value.index == choice, value.isPlausible(maxTokens: spec.maxTokens)
        else { throw damaged("choice \(choice)'s progress does not decode") }
        return value
      }
      // The hash was read first: a live owner may have added tokens and text since, never
      // taken any away. Longer is fine (cut to the progress), shorter is damage.
      let generated = progress?.generated ?? 0
      let sent = progress?.sent ?? 0
      let tokenBytes = (try? replies[2 * choice].bytes()).flatMap { $0 } ?? []
      guard tokenBytes.count >= generated * 4,
        let tokens = TokenBytes.decode(Array(tokenBytes.prefix(generated * 4)))
      else { throw damaged("choice \(choice)'s tokens do not match its progress") }
      let text = (try? replies[2 * choice + 1].bytes()).flatMap { $0 } ?? []
      guard text.count >= sent else {
        throw damaged("choice \(choice)'s text is \(text.count) bytes, not \(sent)")
      }
      stored.progress.append(progress)
      stored.tokens.append(tokens)
      stored.texts.append(String(decoding: text.prefix(sent), as: UTF8.self))
    }
    if let usage = fields["usage"] {
      stored.usage = try? JSONDecoder().decode(StoredUsage.self, from: Data(usage))
    }
    return stored
  }

  /// The request's status alone (nil: no such request).
  func status(_ id: String) throws(RedisError) -> RequestStatus? {
    let reply = try redis.command([bytes("HGET"), hashKey(id), bytes("status")])
    return (try reply.bytes()).flatMap {
      RequestStatus(rawValue: String(decoding: $0, as: UTF8.self))
    }
  }

  private func hash(_ id: String) throws(RedisError) -> [String: [UInt8]] {
    guard case .array(let items) = try redis.command([bytes("HGETALL"), hashKey(id)]) else {
      return [:]
    }
    var fields: [String: [UInt8]] = [:]
    var index = 0
    while index + 1 < items.count {
      if let name = try? items[index].bytes(), let value = try? items[index + 1].bytes() {
        fields[String(decoding: name, as: UTF8.self)] = value
      }
      index += 2
    }
    return fields
  }

  /// The stored events numbered `from` and after, below `to` when given.
  func events(_ id: String, from: Int, to: Int? = nil) throws(RequestStateError) -> [(
    number: Int, payload: [UInt8]
  )] {
    let end = to.map { "0-\($0)" } ?? "+"
    let reply: RedisReply
    do {
      reply = try redis.command([
        bytes("XRANGE"), eventsKey(id), bytes("0-\(from + 1)"), bytes(end),
      ])
    } catch {
      throw .unavailable("\(error)")
    }
    guard case .array(let entries) = reply else { return [] }
    var events: [(number: Int, payload: [UInt8])] = []
    for entry in entries {
      guard case .array(let parts) = entry, parts.count == 2,
        let entryID = try? parts[0].bytes(),
        let sequence = String(decoding: entryID, as: UTF8.self).split(separator: "-").last
          .flatMap({ Int($0) }),
        case .array(let fields) = parts[1], fields.count == 2,
        let payload = try? fields[1].bytes()
      else { throw .damaged(id: id, detail: "a stream entry does not decode") }
      events.append((sequence - 1, payload))
    }
    return events
  }

  private func json(_ value: some Encodable) -> [UInt8] {
    (try? JSONEncoder().encode(value)).map(Array.init) ?? []
  }
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
