/// What identifies a model file across hosts, cheaply: SHA-256 over the file size, the GGUF
/// header (metadata and tensor table, which name every tensor's type, shape and offset) and
/// 64 evenly spaced 4 KiB samples of the tensor data. Two files with different models,
/// quantizations or tokenizers differ here; it is not a checksum of every weight byte.
public enum ModelFingerprint {
  public static func of(_ file: GGUFFile) -> [UInt8] {
    var hash = SHA256()
    let bytes = file.mappedBytes
    withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { hash.update($0) }
    let header = min(file.dataOffset, bytes.count)
    hash.update(UnsafeRawBufferPointer(rebasing: bytes[0..<header]))
    let dataSize = bytes.count - header
    let sample = 4096
    if dataSize > 0 {
      for index in 0..<64 {
        let start = header + dataSize / 64 * index
        let end = min(start + sample, bytes.count)
        hash.update(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
      }
    }
    return hash.finalize()
  }
}
