/// Where one tensor lives in a GGUF file and what shape and type it has. Checked at load:
/// its byte range lies inside the data section and overlaps no other tensor.
public struct GGUFTensorInfo: Sendable, Equatable {
  public let name: String
  /// Dimensions in ggml order: `dimensions[0]` is the row length (the contiguous one).
  public let dimensions: [Int]
  public let type: GGMLType
  /// Offset of the tensor's data from the start of the data section.
  public let offset: Int
  /// Bytes of data, from the type's block geometry.
  public let byteCount: Int

  public var elementCount: Int { dimensions.reduce(1, *) }
  /// Elements per row (ggml's `ne[0]`).
  public var rowLength: Int { dimensions.first ?? 1 }
  /// Number of rows: the product of every dimension after the first.
  public var rowCount: Int { dimensions.dropFirst().reduce(1, *) }
  public var rowByteCount: Int { byteCount / max(rowCount, 1) }
}
