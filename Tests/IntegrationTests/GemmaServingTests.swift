import Foundation
import TestSupport
import Testing

/// The router serves Gemma 3 as it does SmolLM2: completions work (BOS once, as the model
/// asks), and chat answers 400, since this base model has no chat template.
@Suite(.serialized) struct GemmaServingTests {
  @Test func completionsWorkAndChatIsRefusedWithoutATemplate() throws {
    let router = try RouterProcess(["--model", ModelFiles.gemma3Path, "--kv-tokens", "2048"])
    defer { router.stop() }
    let model = "gemma-3-270m-q4_k_m"
    let (status, body) = try router.post(
      "/v1/completions",
      json: [
        "model": model, "prompt": "The capital of France is", "max_tokens": 8, "temperature": 0,
      ])
    #expect(status == 200, "\(body)")
    let choice = (body["choices"] as? [[String: Any]])?.first
    // llama.cpp's greedy continuation (../shared/golden/gemma3.json, raw1).
    #expect(
      (choice?["text"] as? String)?.hasPrefix(" the capital of the country of France") == true)
    let usage = body["usage"] as? [String: Any]
    #expect(usage?["prompt_tokens"] as? Int == 6)  // BOS and five tokens

    let (chatStatus, chat) = try router.post(
      "/v1/chat/completions",
      json: ["model": model, "messages": [["role": "user", "content": "Hi"]]])
    #expect(chatStatus == 400)
    let message = ((chat["error"] as? [String: Any])?["message"] as? String) ?? ""
    #expect(message.contains("no chat template"), "\(chat)")
  }
}
