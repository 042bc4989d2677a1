/// OpenAI's response objects, as the official clients read them.
struct Usage: Encodable, Sendable {
  let promptTokens: Int
  let completionTokens: Int
  var totalTokens: Int { promptTokens + completionTokens }

  enum CodingKeys: String, CodingKey {
    case promptTokens = "prompt_tokens"
    case completionTokens = "completion_tokens"
    case totalTokens = "total_tokens"
  }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(promptTokens, forKey: .promptTokens)
    try container.encode(completionTokens, forKey: .completionTokens)
    try container.encode(totalTokens, forKey: .totalTokens)
  }
}

/// Chat logprobs: `{"content": [{"token", "logprob", "bytes", "top_logprobs": […]}]}`.
struct ChatLogprobs: Encodable, Sendable {
  struct Entry: Encodable, Sendable {
    struct Top: Encodable, Sendable {
      let token: String
      let logprob: Float
      let bytes: [UInt8]
    }
    let token: String
    let logprob: Float
    let bytes: [UInt8]
    let topLogprobs: [Top]
    enum CodingKeys: String, CodingKey {
      case token, logprob, bytes
      case topLogprobs = "top_logprobs"
    }
  }
  let content: [Entry]

  init(_ tokens: [TokenLogprob]) {
    content = tokens.map { token in
      Entry(
        token: token.text, logprob: token.logprob, bytes: Array(token.text.utf8),
        topLogprobs: token.top.map {
          .init(token: $0.text, logprob: $0.logprob, bytes: Array($0.text.utf8))
        })
    }
  }
}

/// Completion logprobs: parallel arrays, `text_offset` counting characters of the choice's
/// text.
struct CompletionLogprobs: Encodable, Sendable {
  let tokens: [String]
  let tokenLogprobs: [Float]
  let topLogprobs: [[String: Float]]
  let textOffset: [Int]

  enum CodingKeys: String, CodingKey {
    case tokens
    case tokenLogprobs = "token_logprobs"
    case topLogprobs = "top_logprobs"
    case textOffset = "text_offset"
  }

  init(_ entries: [TokenLogprob], startOffset: Int) {
    tokens = entries.map(\.text)
    tokenLogprobs = entries.map(\.logprob)
    topLogprobs = entries.map { entry in
      var top: [String: Float] = [:]
      for alternative in entry.top where top[alternative.text] == nil {
        top[alternative.text] = alternative.logprob
      }
      return top
    }
    var offset = startOffset
    textOffset = entries.map { entry in
      defer { offset += entry.text.count }
      return offset
    }
  }
}

struct ChatCompletion: Encodable, Sendable {
  struct Choice: Encodable, Sendable {
    struct Message: Encodable, Sendable {
      let role = "assistant"
      let content: String
    }
    let index: Int
    let message: Message
    let logprobs: ChatLogprobs?
    let finishReason: String
    enum CodingKeys: String, CodingKey {
      case index, message, logprobs
      case finishReason = "finish_reason"
    }
    func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(index, forKey: .index)
      try container.encode(message, forKey: .message)
      try container.encode(logprobs, forKey: .logprobs)
      try container.encode(finishReason, forKey: .finishReason)
    }
  }
  let id: String
  let object = "chat.completion"
  let created: Int
  let model: String
  let choices: [Choice]
  let usage: Usage
}

struct ChatCompletionChunk: Encodable, Sendable {
  struct Choice: Encodable, Sendable {
    struct Delta: Encodable, Sendable {
      let role: String?
      let content: String?
    }
    let index: Int
    let delta: Delta
    let logprobs: ChatLogprobs?
    let finishReason: String?
    enum CodingKeys: String, CodingKey {
      case index, delta, logprobs
      case finishReason = "finish_reason"
    }
    func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(index, forKey: .index)
      try container.encode(delta, forKey: .delta)
      try container.encode(logprobs, forKey: .logprobs)
      try container.encode(finishReason, forKey: .finishReason)
    }
  }
  let id: String
  let object = "chat.completion.chunk"
  let created: Int
  let model: String
  let choices: [Choice]
  let usage: Usage?
}

struct Completion: Encodable, Sendable {
  struct Choice: Encodable, Sendable {
    let text: String
    let index: Int
    let logprobs: CompletionLogprobs?
    let finishReason: String?
    enum CodingKeys: String, CodingKey {
      case text, index, logprobs
      case finishReason = "finish_reason"
    }
    func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(text, forKey: .text)
      try container.encode(index, forKey: .index)
      try container.encode(logprobs, forKey: .logprobs)
      try container.encode(finishReason, forKey: .finishReason)
    }
  }
  let id: String
  let object = "text_completion"
  let created: Int
  let model: String
  let choices: [Choice]
  let usage: Usage?
}

struct ModelList: Encodable, Sendable {
  struct Model: Encodable, Sendable {
    let id: String
    let object = "model"
    let created: Int
    let ownedBy = "tessera"
    enum CodingKeys: String, CodingKey {
      case id, object, created
      case ownedBy = "owned_by"
    }
  }
  let object = "list"
  let data: [Model]
}

/// The fields every chunk of a response repeats.
struct ResponseHeader: Sendable {
  let id: String
  let created: Int
  let model: String
}
