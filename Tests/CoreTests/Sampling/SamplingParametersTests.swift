import Foundation
import Testing

@testable import Core

@Suite struct SamplingParametersTests {
  /// One bad value per case, and the parameter the error must name.
  static let invalidCases: [(SamplingParameters, String)] = [
    (SamplingParameters(temperature: -0.1), "temperature"),
    (SamplingParameters(temperature: .nan), "temperature"),
    (SamplingParameters(temperature: .infinity), "temperature"),
    (SamplingParameters(topK: -1), "topK"),
    (SamplingParameters(topP: 0), "topP"),
    (SamplingParameters(topP: -0.5), "topP"),
    (SamplingParameters(topP: 1.01), "topP"),
    (SamplingParameters(topP: .nan), "topP"),
    (SamplingParameters(minP: -0.01), "minP"),
    (SamplingParameters(minP: 1.5), "minP"),
    (SamplingParameters(minP: .nan), "minP"),
    (SamplingParameters(repetitionPenalty: 0), "repetitionPenalty"),
    (SamplingParameters(repetitionPenalty: -1), "repetitionPenalty"),
    (SamplingParameters(repetitionPenalty: .nan), "repetitionPenalty"),
    (SamplingParameters(repetitionPenalty: .infinity), "repetitionPenalty"),
    (SamplingParameters(presencePenalty: 2.5), "presencePenalty"),
    (SamplingParameters(presencePenalty: -2.5), "presencePenalty"),
    (SamplingParameters(presencePenalty: .nan), "presencePenalty"),
    (SamplingParameters(frequencyPenalty: 2.01), "frequencyPenalty"),
    (SamplingParameters(frequencyPenalty: -3), "frequencyPenalty"),
    (SamplingParameters(frequencyPenalty: .nan), "frequencyPenalty"),
    (SamplingParameters(penaltyWindow: -2), "penaltyWindow"),
  ]

  @Test func defaultsAreGreedyWithEveryStageOff() throws {
    let parameters = try SamplingParameters().validated()
    #expect(parameters.isGreedy)
    #expect(parameters.topK == 0 && parameters.topP == 1 && parameters.minP == 0)
    #expect(parameters.repetitionPenalty == 1 && parameters.presencePenalty == 0)
    #expect(parameters.frequencyPenalty == 0 && parameters.penaltyWindow == 64)
  }

  @Test func acceptsValuesAtTheEdgesOfTheirDomains() throws {
    let edges = [
      SamplingParameters(temperature: 100, topK: 1, topP: 1, minP: 1),
      SamplingParameters(topP: 1e-6, minP: 0),
      SamplingParameters(repetitionPenalty: 1e-3, presencePenalty: -2, frequencyPenalty: 2),
      SamplingParameters(presencePenalty: 2, frequencyPenalty: -2, penaltyWindow: -1),
      SamplingParameters(penaltyWindow: 0, seed: .max),
    ]
    for parameters in edges {
      #expect(try parameters.validated() == parameters)
    }
  }

  @Test(arguments: invalidCases)
  func rejectsEachOutOfDomainParameter(_ parameters: SamplingParameters, name: String) {
    #expect {
      try parameters.validated()
    } throws: { error in
      guard case .invalidParameter(let rejected, _, _) = error as? SamplingError else {
        return false
      }
      return rejected == name
    }
  }

  @Test func errorNamesTheParameterAndItsValue() {
    #expect(throws: SamplingError.self) { try SamplingParameters(topP: 1.5).validated() }
    do {
      _ = try SamplingParameters(topP: 1.5).validated()
    } catch {
      #expect(error.description.contains("topP"))
      #expect(error.description.contains("1.5"))
      if case .invalidParameter(_, let value, _) = error { #expect(value == "1.5") }
    }
  }

  @Test func roundTripsThroughJSONAndDefaultsMissingKeys() throws {
    let parameters = SamplingParameters(
      temperature: 0.7, topK: 40, topP: 0.9, minP: 0.05, repetitionPenalty: 1.1,
      presencePenalty: 0.5, frequencyPenalty: -0.25, penaltyWindow: -1, seed: .max)
    let data = try JSONEncoder().encode(parameters)
    #expect(try JSONDecoder().decode(SamplingParameters.self, from: data) == parameters)
    let partial = Data(#"{"temperature": 0.5, "seed": 9}"#.utf8)
    let decoded = try JSONDecoder().decode(SamplingParameters.self, from: partial)
    #expect(decoded == SamplingParameters(temperature: 0.5, seed: 9))
  }
}
