import Core
import TestSupport
import Testing

@Suite struct SyntheticModelTests {
  @Test(arguments: [GGMLType.q4_0, .q4_1, .q8_0, .f32, .f16, .bf16])
  func everyWeightTypeRunsAndPrefillEqualsDecode(type: GGMLType) throws {
    var shape = SyntheticModels.Shape()
    shape.weightType = type
    let model = try ModelLoader.load(SyntheticModels.llama(shape))
    let engine = InferenceEngine(model: model, threads: 2, kvTokens: 64)
    let tokens: [TokenID] = [1, 5, 9, 33, 70, 2, 95]
    let batched = try engine.feed(sequence: 0, tokens: tokens, logitsAt: Array(tokens.indices))
    var decoded: [Float] = []
    for token in tokens { decoded += Array(try engine.decode(sequence: 1, token: token)) }
    #expect(batched.count == tokens.count * 96)
    #expect(batched.allSatisfy { $0.isFinite })
    #expect(batched.map(\.bitPattern) == decoded.map(\.bitPattern))
  }

  @Test func badTensorsAreTypedErrors() throws {
    var bytes = try SyntheticModels.llamaBytes()
    // A model whose architecture is unknown.
    var writer = GGUFWriter()
    writer.add("general.architecture", .string("mamba9"))
    writer.add("mamba9.block_count", .uint32(1))
    #expect(throws: ModelError.self) {
      try ModelLoader.load(GGUFFile(storage: MappedFile(copying: writer.bytes())))
    }
    // A model missing a tensor: rename one by corrupting its name in place.
    let name = Array("blk.1.ffn_up.weight".utf8)
    let at = try #require(bytes.firstRange(of: name))
    bytes[at.lowerBound] = UInt8(ascii: "x")
    #expect(throws: ModelError.gguf(.missingTensor("blk.1.ffn_up.weight"))) {
      try ModelLoader.load(GGUFFile(storage: MappedFile(copying: bytes)))
    }
  }

  @Test func hyperparametersAreValidated() throws {
    var shape = SyntheticModels.Shape()
    shape.kvHeads = 3  // 4 query heads do not share 3 KV heads evenly
    #expect(throws: ModelError.self) { try ModelLoader.load(SyntheticModels.llama(shape)) }
  }
}
