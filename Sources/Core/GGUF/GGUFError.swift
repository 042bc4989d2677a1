/// Everything that can be wrong with a GGUF file, each case naming what is wrong and where.
///
/// The reader throws these for any file that is truncated, corrupt or hostile; it never traps,
/// allocates without bound or reads outside the mapping.
public enum GGUFError: Error, Equatable, Sendable, CustomStringConvertible {
  case cannotOpen(path: String, reason: String)
  case badMagic(found: UInt32)
  case bigEndianUnsupported
  case unsupportedVersion(UInt32)
  /// The file ended while reading `what`, which needed `needed` bytes at `offset`.
  case truncated(what: String, offset: Int, needed: Int)
  case countTooLarge(what: String, count: UInt64, limit: UInt64)
  case invalidUTF8(what: String, offset: Int)
  case unknownValueType(key: String, rawType: UInt32)
  case nestingTooDeep(key: String)
  case duplicateKey(String)
  case duplicateTensor(String)
  case invalidAlignment(UInt64)
  case tooManyDimensions(tensor: String, count: UInt32)
  case invalidDimension(tensor: String, dimension: Int, value: UInt64)
  case unknownTensorType(tensor: String, rawType: UInt32)
  case rowNotBlockAligned(tensor: String, rowLength: Int, blockSize: Int)
  case misalignedTensor(tensor: String, offset: UInt64, alignment: Int)
  case tensorOutOfBounds(tensor: String, offset: UInt64, byteCount: Int, dataSize: Int)
  case overlappingTensors(String, String)
  case missingKey(String)
  case wrongValueType(key: String, expected: String, found: String)
  case valueOutOfRange(key: String, value: String)
  case missingTensor(String)

  public var description: String {
    switch self {
    case .cannotOpen(let path, let reason): "cannot open GGUF file \(path): \(reason)"
    case .badMagic(let found):
      "not a GGUF file: magic is 0x\(String(found, radix: 16)), expected 0x46554747 ('GGUF')"
    case .bigEndianUnsupported: "big-endian GGUF files are not supported"
    case .unsupportedVersion(let version): "unsupported GGUF version \(version) (supported: 2, 3)"
    case .truncated(let what, let offset, let needed):
      "file is truncated: \(what) needs \(needed) bytes at offset \(offset)"
    case .countTooLarge(let what, let count, let limit):
      "\(what) is \(count), more than the file can hold (at most \(limit))"
    case .invalidUTF8(let what, let offset): "\(what) at offset \(offset) is not valid UTF-8"
    case .unknownValueType(let key, let rawType):
      "metadata \(key) has unknown value type \(rawType)"
    case .nestingTooDeep(let key): "metadata \(key) nests arrays too deeply"
    case .duplicateKey(let key): "metadata key \(key) appears twice"
    case .duplicateTensor(let name): "tensor \(name) appears twice"
    case .invalidAlignment(let value):
      "general.alignment \(value) is not a power of two in 1...65536"
    case .tooManyDimensions(let tensor, let count):
      "tensor \(tensor) has \(count) dimensions (at most 4)"
    case .invalidDimension(let tensor, let dimension, let value):
      "tensor \(tensor) dimension \(dimension) is \(value)"
    case .unknownTensorType(let tensor, let rawType):
      "tensor \(tensor) has unknown or unsupported type \(rawType)"
    case .rowNotBlockAligned(let tensor, let rowLength, let blockSize):
      "tensor \(tensor) rows of \(rowLength) elements are not a multiple of the block size \(blockSize)"
    case .misalignedTensor(let tensor, let offset, let alignment):
      "tensor \(tensor) data offset \(offset) is not a multiple of the alignment \(alignment)"
    case .tensorOutOfBounds(let tensor, let offset, let byteCount, let dataSize):
      "tensor \(tensor) data (\(byteCount) bytes at \(offset)) lies past the data section (\(dataSize) bytes)"
    case .overlappingTensors(let first, let second): "tensors \(first) and \(second) overlap"
    case .missingKey(let key): "required metadata key \(key) is missing"
    case .wrongValueType(let key, let expected, let found):
      "metadata \(key) is \(found), expected \(expected)"
    case .valueOutOfRange(let key, let value): "metadata \(key) has out-of-range value \(value)"
    case .missingTensor(let name): "required tensor \(name) is missing"
    }
  }
}
