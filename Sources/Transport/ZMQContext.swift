import CZeroMQ

/// A libzmq context: the I/O thread sockets share. Sockets keep their context alive, and a
/// context is terminated when the last reference (its own and its sockets') goes away.
public final class ZMQContext: @unchecked Sendable {
  let raw: UnsafeMutableRawPointer

  public init() throws(TransportError) {
    guard let raw = zmq_ctx_new() else { throw .last("zmq_ctx_new") }
    self.raw = raw
  }

  deinit { zmq_ctx_term(raw) }
}
