/// A weight matrix inside the mapped model file: `rows` outputs of `columns` inputs each,
/// row-major in its GGUF type. Only the rows a shard uses are ever read.
public struct WeightMatrix: @unchecked Sendable {
  public let name: String
  public let type: GGMLType
  public let base: UnsafeRawPointer
  public let rows: Int
  public let columns: Int
  public let rowByteCount: Int
  let file: GGUFFile
  let info: GGUFTensorInfo

  /// Types the matrix kernels multiply with.
  public static var kernelTypes: Set<GGMLType> { WeightFormat.kernelTypes }

  /// Looks up `name` and checks it is `[columns, rows]` (ggml order) of a kernel type.
  public init(_ file: GGUFFile, _ name: String, rows: Int, columns: Int) throws(ModelError) {
    guard let info = file.tensor(named: name) else { throw .gguf(.missingTensor(name)) }
    guard info.dimensions == [columns, rows] else {
      throw .badTensor(
        name: name, reason: "shape \(info.dimensions), expected [\(columns), \(rows)]")
    }
    // Types without a kernel yet are read and dequantized into f32 when packed.
    guard WeightFormat.readableTypes.contains(info.type) else {
      throw .badTensor(name: name, reason: "type \(info.type) is not supported for matrices")
    }
    let data = file.data(of: info)
    guard let base = data.baseAddress else { throw .badTensor(name: name, reason: "no data") }
    self.name = name
    self.file = file
    self.info = info
    self.type = info.type
    self.base = base
    self.rows = rows
    self.columns = columns
    self.rowByteCount = info.rowByteCount
  }

  /// Drops the tensor's file pages from resident memory (after it was packed elsewhere), so
  /// loading never holds the whole file and the packed copy at once.
  func releaseSource() { file.releaseResidentPages(of: info) }

  /// Bytes of `rowCount` rows.
  public func byteCount(rows rowCount: Int) -> Int { rowCount * rowByteCount }
}

/// A vector of f32 weights (a norm's scale) inside the mapped model file.
public struct WeightVector: @unchecked Sendable {
  public let base: UnsafePointer<Float>
  public let count: Int

  public init(_ file: GGUFFile, _ name: String, count: Int) throws(ModelError) {
    guard let info = file.tensor(named: name) else { throw .gguf(.missingTensor(name)) }
    guard info.dimensions == [count], info.type == .f32 else {
      throw .badTensor(
        name: name, reason: "expected F32 [\(count)], found \(info.type) \(info.dimensions)")
    }
    guard let raw = file.data(of: info).baseAddress else {
      throw .badTensor(name: name, reason: "no data")
    }
    // GGUF data is at least 32-byte aligned (checked at load), so f32 access is aligned.
    base = raw.assumingMemoryBound(to: Float.self)
    self.count = count
  }
}
