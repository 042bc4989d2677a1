import Router
import Testing

@Suite struct StopMatcherTests {
  func run(_ pieces: [String], stops: [String]) -> (text: String, stopped: Bool) {
    var matcher = StopMatcher(stops: stops)
    var text = ""
    for piece in pieces { text += matcher.append(piece) }
    text += matcher.finish()
    return (text, matcher.stopped)
  }

  @Test func stopsAreMatchedAcrossPiecesAndNeverEmitted() {
    #expect(run(["Hello", " wor", "ld", "!"], stops: ["world"]) == ("Hello ", true))
    #expect(run(["a", "b", "END", "more"], stops: ["EN", "END"]) == ("ab", true))
    #expect(run(["x\n", "\n", "y"], stops: ["\n\n"]) == ("x", true))
  }

  @Test func heldTextIsReleasedWhenItIsNotAStop() {
    var matcher = StopMatcher(stops: ["STOP"])
    #expect(matcher.append("ok ST") == "ok ")  // "ST" might start "STOP"
    #expect(matcher.append("ART") == "START")
    #expect(run(["ab", "ST"], stops: ["STOP"]) == ("abST", false))  // released at the end
  }

  @Test func theEarliestStopWins() {
    #expect(run(["one two three"], stops: ["three", "two"]) == ("one ", true))
  }

  @Test func noStopsPassEverythingThrough() {
    #expect(run(["a", "b"], stops: []) == ("ab", false))
    #expect(run(["a", "b"], stops: [""]) == ("ab", false))
  }

  @Test func unicodeIsCutOnCharacters() {
    #expect(run(["日本", "語で", "す"], stops: ["語"]) == ("日本", true))
    #expect(run(["é", "tude"], stops: ["étu"]) == ("", true))
  }
}
