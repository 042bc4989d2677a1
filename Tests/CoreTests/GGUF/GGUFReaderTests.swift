import Core
import TestSupport
import Testing

@Suite struct GGUFReaderTests {
  private func open(_ writer: GGUFWriter) throws -> GGUFFile {
    try GGUFFile(storage: MappedFile(copying: writer.bytes()))
  }

  private func expectError(
    _ expected: GGUFError, _ writer: GGUFWriter, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    #expect(throws: expected, sourceLocation: sourceLocation) { try open(writer) }
  }

  /// A GGUF header announcing no tensors and one metadata entry, which the caller appends raw.
  private func headerWithOneMetadataEntry() -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.appendLittleEndian(GGUFFile.magic)
    bytes.appendLittleEndian(UInt32(3))
    bytes.appendLittleEndian(UInt64(0))
    bytes.appendLittleEndian(UInt64(1))
    return bytes
  }

  private func smallModel() -> GGUFWriter {
    var writer = GGUFWriter()
    writer.add("general.architecture", .string("llama"))
    writer.addF32("a", dimensions: [4, 2], values: (0..<8).map(Float.init))
    writer.addF32("b", dimensions: [3], values: [1, 2, 3])
    return writer
  }

  @Test func readsEveryMetadataValueType() throws {
    var writer = GGUFWriter()
    let values: [(String, GGUFValue)] = [
      ("u8", .uint8(200)), ("i8", .int8(-5)), ("u16", .uint16(60000)), ("i16", .int16(-300)),
      ("u32", .uint32(4_000_000_000)), ("i32", .int32(-7)), ("f32", .float32(1.5)),
      ("bool", .bool(true)), ("str", .string("héllo ✓")), ("u64", .uint64(1 << 40)),
      ("i64", .int64(-(1 << 40))), ("f64", .float64(-2.25)),
      ("arr", .array([.int32(1), .int32(2)])), ("nested", .array([.array([.string("x")])])),
      ("empty", .array([])),
    ]
    for (key, value) in values { writer.add(key, value) }
    let file = try open(writer)
    #expect(file.metadataKeys == values.map(\.0))
    for (key, value) in values { #expect(file.metadata[key] == value) }
    #expect(try file.required("u32", as: Int.self) == 4_000_000_000)
    #expect(try file.required("f64", as: Float.self) == -2.25)
    #expect(try file.required("arr", as: [Int].self) == [1, 2])
    #expect(try file.optional("missing", as: String.self) == nil)
  }

  @Test(arguments: [UInt32(2), 3]) func readsVersions2And3(version: UInt32) throws {
    var writer = smallModel()
    writer.version = version
    let file = try open(writer)
    #expect(file.version == version)
    #expect(file.tensors.map(\.name) == ["a", "b"])
  }

  @Test func locatesTensorDataAtAlignedOffsets() throws {
    var writer = smallModel()
    writer.alignment = 64
    writer.add("general.alignment", .uint32(64))
    let file = try open(writer)
    #expect(file.dataOffset % 64 == 0)
    let b = try file.requiredTensor("b")
    #expect(b.offset == 64)
    let data = file.data(of: b)
    #expect(data.count == 12)
    #expect(data.loadUnaligned(fromByteOffset: 8, as: Float.self) == 3)
    let a = try file.requiredTensor("a")
    #expect(a.rowLength == 4 && a.rowCount == 2 && a.rowByteCount == 16)
  }

  @Test func typedGettersNameTheProblem() throws {
    let file = try open(smallModel())
    #expect(throws: GGUFError.missingKey("llama.block_count")) {
      try file.required("llama.block_count", as: Int.self)
    }
    #expect(
      throws: GGUFError.wrongValueType(
        key: "general.architecture", expected: "integer", found: "string")
    ) { try file.required("general.architecture", as: Int.self) }
    #expect(throws: GGUFError.missingTensor("c")) { try file.requiredTensor("c") }
  }

  @Test func rejectsBadMagic() {
    var writer = smallModel()
    writer.magic = 0x1234_5678
    expectError(.badMagic(found: 0x1234_5678), writer)
  }

  @Test func rejectsUnsupportedAndBigEndianVersions() {
    var writer = smallModel()
    writer.version = 1
    expectError(.unsupportedVersion(1), writer)
    writer.version = UInt32(3).byteSwapped
    expectError(.bigEndianUnsupported, writer)
  }

  @Test func rejectsEveryTruncation() throws {
    let bytes = smallModel().bytes()
    // Every proper prefix of a valid file must fail with a typed error, never trap.
    for length in 0..<bytes.count {
      let prefix = Array(bytes[..<length])
      #expect(throws: GGUFError.self) { try GGUFFile(storage: MappedFile(copying: prefix)) }
    }
    #expect(throws: GGUFError.truncated(what: "magic", offset: 0, needed: 4)) {
      try GGUFFile(storage: MappedFile(copying: [0x47, 0x47]))
    }
  }

  @Test func rejectsAbsurdCountsWithoutAllocating() {
    var writer = smallModel()
    writer.tensorCountOverride = UInt64.max
    #expect(throws: GGUFError.self) { try open(writer) }
    writer = smallModel()
    writer.metadataCountOverride = 1 << 60
    #expect {
      try open(writer)
    } throws: { error in
      guard case .countTooLarge(let what, _, _) = error as? GGUFError else { return false }
      return what == "metadata count"
    }
  }

  @Test func rejectsAbsurdStringAndArrayLengths() {
    // Header says one metadata entry; its key claims 2^62 bytes.
    var bytes = headerWithOneMetadataEntry()
    bytes.appendLittleEndian(UInt64(1) << 62)
    bytes.append(contentsOf: Array("key".utf8))
    #expect {
      try GGUFFile(storage: MappedFile(copying: bytes))
    } throws: { error in
      if case .countTooLarge = error as? GGUFError { return true }
      return false
    }

    var array = headerWithOneMetadataEntry()
    array.appendString("tokens")
    array.appendLittleEndian(GGUFValue.TypeCode.array.rawValue)
    array.appendLittleEndian(GGUFValue.TypeCode.string.rawValue)
    array.appendLittleEndian(UInt64(1) << 50)
    #expect {
      try GGUFFile(storage: MappedFile(copying: array))
    } throws: { error in
      guard case .countTooLarge(let what, _, _) = error as? GGUFError else { return false }
      return what == "element count of tokens"
    }
  }

  @Test func rejectsInvalidUTF8AndUnknownValueTypes() {
    var bytes = headerWithOneMetadataEntry()
    bytes.appendLittleEndian(UInt64(2))
    bytes.append(contentsOf: [0xC3, 0x28])
    bytes.appendLittleEndian(GGUFValue.TypeCode.uint32.rawValue)
    bytes.appendLittleEndian(UInt32(7))
    #expect(throws: GGUFError.invalidUTF8(what: "metadata key #0", offset: 24)) {
      try GGUFFile(storage: MappedFile(copying: bytes))
    }

    var unknown = headerWithOneMetadataEntry()
    unknown.appendString("k")
    unknown.appendLittleEndian(UInt32(99))
    unknown.append(contentsOf: [0, 0, 0, 0])
    #expect(throws: GGUFError.unknownValueType(key: "k", rawType: 99)) {
      try GGUFFile(storage: MappedFile(copying: unknown))
    }
  }

  @Test func rejectsDeeplyNestedArrays() {
    var writer = GGUFWriter()
    var value = GGUFValue.int32(1)
    for _ in 0..<6 { value = .array([value]) }
    writer.add("deep", value)
    expectError(.nestingTooDeep(key: "deep"), writer)
  }

  @Test func rejectsDuplicateKeysAndTensors() {
    var writer = smallModel()
    writer.add("general.architecture", .string("again"))
    expectError(.duplicateKey("general.architecture"), writer)
    writer = smallModel()
    writer.addF32("a", dimensions: [2], values: [0, 0])
    expectError(.duplicateTensor("a"), writer)
  }

  @Test func rejectsTensorDataPastTheEnd() {
    var writer = smallModel()
    writer.tensors[1].offsetOverride = 1 << 20
    // The writer pads the data section out to the bogus offset; cut the file back to size.
    let validSize = smallModel().bytes().count
    let farOffset = Array(writer.bytes()[..<validSize])
    #expect {
      try GGUFFile(storage: MappedFile(copying: farOffset))
    } throws: { error in
      guard case .tensorOutOfBounds(let tensor, let offset, 12, _) = error as? GGUFError else {
        return false
      }
      return tensor == "b" && offset == 1 << 20
    }
    // Data section cut short: the file ends inside tensor b.
    var bytes = smallModel().bytes()
    bytes.removeLast(4)
    #expect {
      try GGUFFile(storage: MappedFile(copying: bytes))
    } throws: { error in
      guard case .tensorOutOfBounds(let tensor, _, _, _) = error as? GGUFError else { return false }
      return tensor == "b"
    }
  }

  @Test func rejectsOverlappingAndMisalignedTensors() {
    var writer = smallModel()
    writer.tensors[1].offsetOverride = 0
    expectError(.overlappingTensors("a", "b"), writer)
    writer = smallModel()
    writer.tensors[1].offsetOverride = 36
    expectError(.misalignedTensor(tensor: "b", offset: 36, alignment: 32), writer)
  }

  @Test func rejectsUnknownTypesAndBadShapes() {
    var writer = smallModel()
    writer.tensors[0].rawType = 77
    expectError(.unknownTensorType(tensor: "a", rawType: 77), writer)
    writer = smallModel()
    writer.tensors[0].dimensions = [4, 0]
    expectError(.invalidDimension(tensor: "a", dimension: 1, value: 0), writer)
    writer = smallModel()
    writer.tensors[0].dimensions = [1, 1, 1, 1, 1]
    expectError(.tooManyDimensions(tensor: "a", count: 5), writer)
    writer = smallModel()
    writer.tensors[0].dimensions = [UInt64(Int32.max), UInt64(Int32.max), UInt64(Int32.max)]
    #expect(throws: GGUFError.self) { try open(writer) }
    writer = smallModel()
    writer.tensors[0].rawType = GGMLType.q4_0.rawValue
    writer.tensors[0].dimensions = [20]
    expectError(.rowNotBlockAligned(tensor: "a", rowLength: 20, blockSize: 32), writer)
  }

  @Test func rejectsBadAlignment() {
    var writer = smallModel()
    writer.add("general.alignment", .uint32(24))
    expectError(.invalidAlignment(24), writer)
  }

  @Test func survivesRandomCorruption() {
    // Flip bytes of a valid file at random places: every outcome is a file or a typed error.
    let original = smallModel().bytes()
    var generator = SplitMix64(seed: 42)
    for _ in 0..<2000 {
      var bytes = original
      for _ in 0..<3 {
        let index = Int(generator.next() % UInt64(bytes.count))
        bytes[index] = UInt8(truncatingIfNeeded: generator.next())
      }
      _ = try? GGUFFile(storage: MappedFile(copying: bytes))
    }
  }

  @Test func readsTheRealModel() throws {
    let file = try ModelFiles.smolLM2()
    #expect(file.version == 3)
    #expect(try file.required("general.architecture", as: String.self) == "llama")
    #expect(try file.required("llama.block_count", as: Int.self) == 30)
    #expect(try file.required("tokenizer.ggml.tokens", as: [String].self).count == 49152)
    #expect(file.tensors.count == 272)
    let embedding = try file.requiredTensor("token_embd.weight")
    #expect(embedding.type == .q8_0 && embedding.dimensions == [576, 49152])
    let last = file.tensors.max { $0.offset < $1.offset }
    #expect(last.map { file.dataOffset + $0.offset + $0.byteCount } == file.fileSize)
  }
}
