extension PagedKVCache {
  /// Reserves `tokenCount` more tokens of `sequence` for a step whose rows from `row` on are
  /// these tokens: writes their positions, and per pool their slots and where the sequence's
  /// block table starts, appending that table to the step's.
  func reserveRows(
    _ sequence: Int, tokenCount: Int, in state: RunState, at row: Int
  ) throws(ModelError) {
    let start = length(of: sequence)
    let (slots, windowSlots) = try reserve(sequence, tokenCount: tokenCount)
    for index in 0..<tokenCount { state.positions.pointer[row + index] = Int32(start + index) }
    for (tables, slots, windowed) in [
      (state.full, slots, false), (state.window, windowSlots, true),
    ] where !slots.isEmpty {
      let offset = Int32(tables.blockTables.count)
      withBlockTable(of: sequence, windowed: windowed) {
        tables.blockTables.append(contentsOf: $0)
      }
      for (index, slot) in slots.enumerated() {
        tables.slots.pointer[row + index] = slot
        tables.tableOffsets.pointer[row + index] = offset
      }
    }
  }
}
