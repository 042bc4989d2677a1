import Core
import Foundation
import RedisClient

/// Reading request state back from Redis, and claiming orphans.
extension RedisRequestStore {
  // MARK: Taking over

  /// Takes the unfinished requests (other than `except`) whose lease has expired, or is held
  /// in this router's name by an earlier run of it; returns their ids.
  func claimOrphans(except: Set<String>) throws(RequestStateError) -> [String] {
    try redisCall { () throws(RedisError) in try claimOrphansNow(except: except) }
  }

  private func claimOrphansNow(except: Set<String>) throws(RedisError) -> [String] {
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
  func status(_ id: String) throws(RequestStateError) -> RequestStatus? {
    let reply = try redisCall { () throws(RedisError) in
      try redis.command([bytes("HGET"), hashKey(id), bytes("status")]).bytes()
    }
    return reply.flatMap {
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
  func events(_ id: String, from: Int, to: Int?) throws(RequestStateError) -> [(
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
}
