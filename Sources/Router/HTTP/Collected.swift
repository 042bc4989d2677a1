import Core
import Hummingbird

/// A non-streaming response: a request's result gathered into one OpenAI object.
enum Collected {
  static func response(_ result: RequestResult, spec: RequestSpec) throws(APIError) -> Response {
    if let failure = result.failure { throw failure }
    guard let usage = result.usage else {
      throw .unavailable("the request was cancelled before it finished")
    }
    let count = spec.choices
    let wantsLogprobs = spec.logprobs != nil
    let reason = { (index: Int) in (result.reasons[index] ?? .length).rawValue }
    let usageBody = Usage(
      promptTokens: usage.promptTokens, completionTokens: usage.completionTokens)
    switch spec.endpoint {
    case .chat:
      return OpenAIResponse.json(
        ChatCompletion(
          id: spec.id, created: spec.created, model: spec.model,
          choices: (0..<count).map { index in
            .init(
              index: index, message: .init(content: result.texts[index]),
              logprobs: wantsLogprobs ? ChatLogprobs(result.logprobs[index]) : nil,
              finishReason: reason(index))
          }, usage: usageBody))
    case .completion:
      return OpenAIResponse.json(
        Completion(
          id: spec.id, created: spec.created, model: spec.model,
          choices: (0..<count).map { index in
            .init(
              text: result.texts[index], index: index,
              logprobs: wantsLogprobs
                ? CompletionLogprobs(result.logprobs[index], startOffset: 0) : nil,
              finishReason: reason(index))
          }, usage: usageBody))
    }
  }
}
