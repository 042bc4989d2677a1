/// Errors of the quant-format layer.
public enum QuantError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The type has a known layout but Tessera has no kernels for it.
  case unsupportedType(GGMLType)
  /// An element count that is not a whole number of the type's blocks.
  case notBlockAligned(type: GGMLType, count: Int)

  public var description: String {
    switch self {
    case .unsupportedType(let type): "tensor type \(type) is not supported for computation"
    case .notBlockAligned(let type, let count):
      "\(count) elements are not a whole number of \(type) blocks (\(type.blockSize))"
    }
  }
}
