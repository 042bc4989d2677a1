import Core
import Foundation
import Testing

@testable import Router

/// A request's events and result in memory (request state off): numbering, reading after any
/// event, the result, and how a request ends.
@Suite struct RequestLogTests {
  static func spec(endpoint: RequestSpec.Endpoint = .chat, choices: Int = 1) -> RequestSpec {
    RequestSpec(
      loopID: 0xabc, endpoint: endpoint, model: "m", created: 1_700_000_000, prompt: [1, 2],
      maxTokens: 8, sampling: SamplingParameters(temperature: 0.5, seed: 3), choices: choices,
      stream: true, includeUsage: true)
  }

  static func progress(_ generated: Int, token: TokenID, sent: Int) -> ChoiceProgress {
    ChoiceProgress(
      index: 0, generated: generated, token: token, detokenizerBytes: [], stopHeld: "",
      stopped: false, produced: sent, sent: sent, pendingLogprobs: [], finishReason: nil)
  }

  /// Request state in this process, its thread running for the whole test process: events
  /// become readable once it wrote their unit, as with Redis.
  static let journal: RequestJournal = {
    let journal = RequestJournal.inMemory()
    journal.start(periodic: {}, lost: { _ in })
    return journal
  }()

  /// Every event from the first to the end (reads until the last is visible).
  func readToEnd(_ log: RequestLog, after: Int = -1) async -> RequestLog.Batch {
    var batch = await log.read(after: after)
    while !batch.ended {
      let next = await log.read(after: batch.first + batch.payloads.count - 1)
      batch.payloads += next.payloads
      batch.ended = next.ended
    }
    return batch
  }

  func text(_ payload: [UInt8]) -> String { String(decoding: payload, as: UTF8.self) }

  @Test func eventsAreNumberedFromTheOpeningAndReadAfterAnyNumber() async {
    let log = RequestLog(spec: Self.spec(), journal: Self.journal, clock: nil)
    log.send(.delta(choice: 0, text: "Hi", logprobs: []))
    log.send(.checkpoint(Self.progress(1, token: 40, sent: 2)))
    log.send(.finished(choice: 0, reason: .length, completionTokens: 1))
    log.send(.done(promptTokens: 2, completionTokens: 1))
    let all = await readToEnd(log)
    #expect(all.first == 0 && all.ended)
    // role, delta, finish, usage, [DONE]
    #expect(all.payloads.count == 5)
    #expect(text(all.payloads[0]).contains("\"role\":\"assistant\""))
    #expect(text(all.payloads[1]).contains("\"content\":\"Hi\""))
    #expect(text(all.payloads[3]).contains("\"total_tokens\":3"))
    #expect(all.payloads.last == EventEncoder.done)
    let tail = await log.read(after: 2)
    #expect(tail.first == 3 && tail.payloads == Array(all.payloads[3...]) && tail.ended)
    let result = log.snapshot
    #expect(result.status == .finished && result.texts == ["Hi"] && result.tokens == [[40]])
    #expect(result.reasons == [.length] && result.usage?.completionTokens == 1)
  }

  @Test func aReaderWaitsForTheNextEvent() async {
    let log = RequestLog(spec: Self.spec(endpoint: .completion), journal: Self.journal, clock: nil)
    async let next = log.read(after: -1)  // a completion stream opens with no event
    log.send(.delta(choice: 0, text: "x", logprobs: []))
    log.send(.checkpoint(Self.progress(1, token: 40, sent: 1)))  // the unit that shows it
    let batch = await next
    #expect(batch.first == 0 && batch.payloads.count == 1 && !batch.ended)
  }

  @Test func aCancelledRequestEndsWithDoneAndSaysCancelled() async {
    let log = RequestLog(spec: Self.spec(), journal: Self.journal, clock: nil)
    log.send(.delta(choice: 0, text: "a", logprobs: []))
    log.end()
    let all = await readToEnd(log)
    #expect(all.ended && all.payloads.last == EventEncoder.done)
    #expect(log.snapshot.status == .cancelled)
    log.end()  // twice changes nothing
    #expect(await readToEnd(log).payloads.count == all.payloads.count)
  }

  @Test func handingBackWithoutRequestStateFailsTheRequest() {
    let log = RequestLog(spec: Self.spec(), journal: Self.journal, clock: nil)
    log.handBack()
    #expect(log.snapshot.status == .failed && log.isEnded)
  }

  @Test func theGracePeriodCountsReaders() {
    let log = RequestLog(spec: Self.spec(), journal: Self.journal, clock: nil)
    log.attach()
    log.attach()
    #expect(log.detach() == nil)  // one reader is left
    let departure = log.detach()
    #expect(departure != nil)
    #expect(log.stillAbandoned(since: departure ?? 0))
    log.attach()  // a resume came
    #expect(!log.stillAbandoned(since: departure ?? 0))
  }

  @Test func tokensRoundTripAndATruncatedStringIsRefused() {
    let tokens: [TokenID] = [0, 1, 49_151, -1, .max]
    let bytes = TokenBytes.encode(tokens)
    #expect(bytes.count == 20 && TokenBytes.decode(bytes) == tokens)
    #expect(TokenBytes.decode(Array(bytes.dropLast())) == nil)
  }

  @Test func responseIDsAreFixedWidthHex() {
    #expect(RequestSpec.responseID(0xabc, endpoint: .chat) == "chatcmpl-0000000000000abc")
    #expect(RequestSpec.responseID(.max, endpoint: .completion) == "cmpl-ffffffffffffffff")
  }

  /// A stop matcher and a detokenizer rebuilt from their state carry on exactly as the
  /// originals would have: what a router that takes a request over relies on.
  @Test(arguments: 1..<6) func textStateCarriesOverAtAnyPoint(cut: Int) {
    let pieces = ["Hel", "lo, ", "wor", "ld EN", "D more", "!"]
    var whole = StopMatcher(stops: ["END", "ld!"])
    let reference = pieces.map { whole.append($0) }.joined() + whole.finish()
    var first = StopMatcher(stops: ["END", "ld!"])
    let before = pieces[..<cut].map { first.append($0) }.joined()
    var second = StopMatcher(stops: ["END", "ld!"], held: first.held, stopped: first.stopped)
    let after = pieces[cut...].map { second.append($0) }.joined() + second.finish()
    #expect(before + after == reference)
  }
}
