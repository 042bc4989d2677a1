import Core
import Hummingbird

/// A non-streaming response: the events gathered into one OpenAI object.
enum Collected {
  static func response(
    _ events: AsyncStream<GenerationEvent>, header: ResponseHeader, request: GenerationRequest,
    endpoint: GenerationRequest.Endpoint, clock: TokenClock
  ) async throws(APIError) -> Response {
    let count = request.choices
    var texts = [String](repeating: "", count: count)
    var logprobs = [[TokenLogprob]](repeating: [], count: count)
    var reasons = [FinishReason](repeating: .length, count: count)
    var usage: Usage?
    var clock = clock
    for await event in events {
      switch event {
      case .delta(let choice, let text, let entries) where choice < count:
        clock.tokensArrived()
        texts[choice] += text
        logprobs[choice] += entries
      case .finished(let choice, let reason, _) where choice < count:
        reasons[choice] = reason
      case .done(let prompt, let completion):
        usage = Usage(promptTokens: prompt, completionTokens: completion)
      case .failed(let error):
        throw error
      default:
        break
      }
    }
    guard let usage else { throw .unavailable("the request ended without a result") }
    let wantsLogprobs = request.logprobs != nil
    switch endpoint {
    case .chat:
      return RouterServer.json(
        ChatCompletion(
          id: header.id, created: header.created, model: header.model,
          choices: (0..<count).map { index in
            .init(
              index: index, message: .init(content: texts[index]),
              logprobs: wantsLogprobs ? ChatLogprobs(logprobs[index]) : nil,
              finishReason: reasons[index].rawValue)
          }, usage: usage))
    case .completion:
      return RouterServer.json(
        Completion(
          id: header.id, created: header.created, model: header.model,
          choices: (0..<count).map { index in
            .init(
              text: texts[index], index: index,
              logprobs: wantsLogprobs ? CompletionLogprobs(logprobs[index], startOffset: 0) : nil,
              finishReason: reasons[index].rawValue)
          }, usage: usage))
    }
  }
}
