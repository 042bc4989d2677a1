/// A fixed-size, zero-initialized heap buffer, freed with its owner. Scratch memory for the
/// forward pass is allocated once, never per token.
final class ScratchBuffer<Element> {
  let pointer: UnsafeMutablePointer<Element>
  let count: Int

  init(count: Int, zero: Element) {
    self.count = max(count, 1)
    pointer = .allocate(capacity: self.count)
    pointer.initialize(repeating: zero, count: self.count)
  }

  deinit { pointer.deallocate() }
}
