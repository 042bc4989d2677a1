/// GPT-2's byte-level alphabet: every byte is shown as one printable code point so that BPE
/// vocabularies can be stored as text. Printable Latin-1 bytes map to themselves; the other 68
/// bytes map to U+0100 onwards in byte order (so a space becomes "Ġ", a newline "Ċ").
enum ByteLevel {
  /// `scalarForByte[b]` is the code point that stands for byte `b`.
  static let scalarForByte: [Unicode.Scalar] = {
    var table = [Unicode.Scalar](repeating: " ", count: 256)
    var next: UInt32 = 256
    for byte in 0..<256 {
      let printable =
        (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
      if printable {
        table[byte] = Unicode.Scalar(UInt8(byte))
      } else {
        table[byte] = Unicode.Scalar(next) ?? " "
        next += 1
      }
    }
    return table
  }()

  /// The inverse mapping; nil for code points outside the alphabet.
  static let byteForScalar: [UInt32: UInt8] = {
    var map: [UInt32: UInt8] = [:]
    for (byte, scalar) in scalarForByte.enumerated() { map[scalar.value] = UInt8(byte) }
    return map
  }()

  /// Decodes a vocabulary entry back to the bytes it stands for; nil if it has a code point
  /// outside the alphabet.
  static func bytes(ofEncoded text: String) -> [UInt8]? {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.unicodeScalars.count)
    for scalar in text.unicodeScalars {
      guard let byte = byteForScalar[scalar.value] else { return nil }
      bytes.append(byte)
    }
    return bytes
  }
}
