import CZeroMQ

/// Waits until any of several sockets has a message.
public enum Poller {
  /// For each socket, whether a message is ready, after waiting at most `timeoutMilliseconds`
  /// (-1: forever) for the first one. An interrupted wait (a signal) returns all false.
  public static func wait(_ sockets: [ZMQSocket], timeoutMilliseconds: Int) throws(TransportError)
    -> [Bool]
  {
    var items = sockets.map {
      zmq_pollitem_t(socket: $0.raw, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
    }
    let count = zmq_poll(&items, Int32(items.count), timeoutMilliseconds)
    if count < 0 {
      if tessera_zmq_errno() == EINTR { return Array(repeating: false, count: sockets.count) }
      throw .last("zmq_poll")
    }
    return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
  }
}
