import CZeroMQ

/// CurveZMQ on a socket: encryption and mutual authentication by public key. A server (the
/// side that binds) checks each client's key with the ZAP handler of its context (see
/// `ZAPHandler`, which must exist before the bind); a client must know the server's key.
extension ZMQSocket {
  /// Makes this socket a Curve server with `keys`; clients are checked in ZAP `domain`
  /// (set before binding).
  public func makeCurveServer(_ keys: CurveKeyPair, domain: String) throws(TransportError) {
    try set(ZMQ_CURVE_SERVER, Int32(1))
    try set(ZMQ_CURVE_SECRETKEY, text: keys.secretKey)
    try set(ZMQ_ZAP_DOMAIN, text: domain)
    isCurveServer = true
  }

  /// Makes this socket a Curve client of the server whose public key is `serverKey` (set
  /// before connecting).
  public func makeCurveClient(_ keys: CurveKeyPair, serverKey: String) throws(TransportError) {
    guard CurveKeyPair.isZ85Key(serverKey) else {
      throw .badKey("the server key is not a 40-character Z85 public key")
    }
    try set(ZMQ_CURVE_SERVERKEY, text: serverKey)
    try set(ZMQ_CURVE_PUBLICKEY, text: keys.publicKey)
    try set(ZMQ_CURVE_SECRETKEY, text: keys.secretKey)
  }

  func set(_ option: Int32, text: String) throws(TransportError) {
    let bytes = Array(text.utf8)
    let status = bytes.withUnsafeBytes {
      zmq_setsockopt(try? handle(), option, $0.baseAddress, $0.count)
    }
    guard status == 0 else { throw .last("zmq_setsockopt(\(option))") }
  }
}
