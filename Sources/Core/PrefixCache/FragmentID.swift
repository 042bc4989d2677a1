/// The identity of one block of a prompt's tokens in the context-fragment cache: a chained
/// hash of (model fingerprint, the previous block's id, this block's tokens), so equal ids mean
/// equal model and equal whole prefix. Nothing about the partition layout goes in: any layout
/// finds what any other wrote.
public struct FragmentID: Hashable, Sendable, CustomStringConvertible {
  /// SHA-256, 32 bytes.
  public let digest: [UInt8]

  /// Lowercase hex, as it appears in cache keys.
  public var description: String { SHA256.hex(digest) }

  /// The ids of the whole blocks of `tokens` (a trailing partial block has none), in order.
  public static func chain(tokens: [TokenID], blockSize: Int, fingerprint: [UInt8])
    -> [FragmentID]
  {
    guard blockSize > 0 else { return [] }
    var ids: [FragmentID] = []
    var parent: [UInt8] = []
    for start in stride(from: 0, to: tokens.count - blockSize + 1, by: blockSize) {
      var hash = SHA256()
      hash.update(Array("tessera-fragment-v1".utf8))
      hash.update(fingerprint)
      hash.update(parent)
      var block = [UInt8]()
      block.reserveCapacity(4 * blockSize)
      for token in tokens[start..<start + blockSize] {
        withUnsafeBytes(of: UInt32(bitPattern: token).littleEndian) { block += $0 }
      }
      hash.update(block)
      parent = hash.finalize()
      ids.append(FragmentID(digest: parent))
    }
    return ids
  }
}
