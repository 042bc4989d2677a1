import CKernels

/// The part of a weight matrix a shard uses, copied into its arena in the kernels' layout:
/// quantized types repacked into panels of 16 rows (see tessera_kernels.h), float types row by
/// row as they are. Rows and columns keep their global numbering through `firstRow` and
/// `firstColumn`, so the forward pass speaks in the model's coordinates.
public struct PackedMatrix: @unchecked Sendable {
  public let type: GGMLType
  public let base: UnsafeRawPointer
  public let rows: Range<Int>
  public let columns: Range<Int>
  /// Bytes from one panel of 16 rows (quantized types) or one row (float types) to the next.
  public let strideBytes: Int
  public let byteCount: Int

  /// Packs rows `rows` and columns `columns` (32-aligned) of `matrix` into `arena`.
  init(
    _ matrix: WeightMatrix, rows: Range<Int>, columns: Range<Int>, arena: WeightArena
  ) throws(ModelError) {
    guard rows.lowerBound >= 0, rows.upperBound <= matrix.rows, columns.lowerBound >= 0,
      columns.upperBound <= matrix.columns, columns.lowerBound % 32 == 0, columns.count % 32 == 0
    else {
      throw .badTensor(name: matrix.name, reason: "slice \(rows) × \(columns) does not fit")
    }
    // A K-quant's sub-blocks carry their super-block's scales, so any 32-aligned slice packs;
    // the rows themselves must be whole super-blocks (checked when the tensor was read).
    guard matrix.columns % matrix.type.blockSize == 0 else {
      throw .badTensor(
        name: matrix.name,
        reason:
          "\(matrix.columns) inputs is not a multiple of \(matrix.type)'s \(matrix.type.blockSize)")
    }
    guard WeightFormat.table[matrix.type]?.kernel != nil else {
      throw .badTensor(name: matrix.name, reason: "no matrix kernel takes \(matrix.type)")
    }
    let type = Int32(matrix.type.rawValue)
    let source = matrix.base + rows.lowerBound * matrix.rowByteCount
    if tk_type_uses_q8(type) != 0 {
      strideBytes = tk_packed_panel_bytes(type, Int32(columns.count))
      byteCount = tk_packed_matrix_bytes(type, Int32(rows.count), Int32(columns.count))
      let destination = try arena.allocate(byteCount)
      tk_pack_matrix(
        type, source, matrix.rowByteCount, Int32(columns.lowerBound), Int32(columns.count),
        Int32(rows.count), destination.assumingMemoryBound(to: UInt8.self))
      base = UnsafeRawPointer(destination)
    } else {
      let elementBytes = matrix.rowByteCount / matrix.columns
      strideBytes = columns.count * elementBytes
      byteCount = strideBytes * rows.count
      let destination = try arena.allocate(byteCount)
      for row in 0..<rows.count {
        (destination + row * strideBytes).copyMemory(
          from: source + row * matrix.rowByteCount + columns.lowerBound * elementBytes,
          byteCount: strideBytes)
      }
      base = UnsafeRawPointer(destination)
    }
    self.type = matrix.type
    self.rows = rows
    self.columns = columns
    matrix.releaseSource()
  }

  /// Expands global row `row` into floats (all of the packed columns).
  func dequantize(row: Int, into out: UnsafeMutablePointer<Float>) {
    let type = Int32(self.type.rawValue)
    let local = row - rows.lowerBound
    let matrix = base.assumingMemoryBound(to: UInt8.self)
    if tk_type_uses_q8(type) != 0 {
      tk_dequantize_packed_row(type, matrix, Int32(columns.count), Int32(local), out)
    } else {
      tk_dequantize_row(type, matrix + local * strideBytes, Int32(columns.count), out)
    }
  }
}

/// A norm's f32 scale vector, copied into the arena.
public struct PackedVector: @unchecked Sendable {
  public let base: UnsafePointer<Float>
  public let count: Int

  init(_ vector: WeightVector, arena: WeightArena) throws(ModelError) {
    let destination = try arena.allocate(vector.count * MemoryLayout<Float>.size)
    destination.copyMemory(from: vector.base, byteCount: vector.count * MemoryLayout<Float>.size)
    base = UnsafePointer(destination.assumingMemoryBound(to: Float.self))
    count = vector.count
  }
}
