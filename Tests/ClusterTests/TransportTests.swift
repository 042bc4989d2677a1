import Testing
import Transport

@Suite struct TransportTests {
  @Test func routerAndDealerExchangeMultipartMessages() throws {
    let context = try ZMQContext()
    let router = try ZMQSocket(context, .router)
    let endpoint = try router.bind("tcp://127.0.0.1:*")
    #expect(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix("*"))
    let dealer = try ZMQSocket(context, .dealer)
    try dealer.connect(endpoint)
    try dealer.send([[1, 2, 3], [], [4]])
    let received = try #require(try router.receive(timeoutMilliseconds: 5000))
    #expect(received.count == 4)  // peer id, then the three parts
    #expect(Array(received[1...]) == [[1, 2, 3], [], [4]])
    try router.send([received[0], [9, 9]])
    #expect(try dealer.receive(timeoutMilliseconds: 5000) == [[9, 9]])
  }

  @Test func oversizedPartsNeverArrive() throws {
    let context = try ZMQContext()
    let router = try ZMQSocket(context, .router, maxPartBytes: 1024)
    let endpoint = try router.bind("tcp://127.0.0.1:*")
    let hostile = try ZMQSocket(context, .dealer)
    try hostile.connect(endpoint)
    try hostile.send([[UInt8](repeating: 7, count: 4096)])
    // libzmq drops the connection that sent it; a well-behaved peer is still served.
    #expect(try router.receive(timeoutMilliseconds: 300) == nil)
    let polite = try ZMQSocket(context, .dealer)
    try polite.connect(endpoint)
    try polite.send([[1]])
    let received = try #require(try router.receive(timeoutMilliseconds: 5000))
    #expect(received.last == [1])
  }

  @Test func messagesWithTooManyPartsAreDropped() throws {
    let context = try ZMQContext()
    let router = try ZMQSocket(context, .router, maxParts: 3)
    let endpoint = try router.bind("tcp://127.0.0.1:*")
    let dealer = try ZMQSocket(context, .dealer)
    try dealer.connect(endpoint)
    try dealer.send(Array(repeating: [1], count: 10))
    try dealer.send([[2]])
    #expect(try router.receive(timeoutMilliseconds: 5000) == [])
    #expect(try router.receive(timeoutMilliseconds: 5000)?.last == [2])
  }

  @Test func sendingToAnUnknownPeerIsATypedError() throws {
    let context = try ZMQContext()
    let router = try ZMQSocket(context, .router)
    try router.bind("tcp://127.0.0.1:*")
    #expect(throws: TransportError.self) { try router.send([[0, 1, 2, 3], [1]]) }
  }

  @Test(arguments: [
    "tcp://127.0.0.1", "tcp://:80", "tcp://host:0", "tcp://host:99999", "http://x:1", "ipc://",
    "",
  ])
  func badEndpointsAreRefused(endpoint: String) throws {
    let socket = try ZMQSocket(ZMQContext(), .dealer)
    #expect(throws: TransportError.badEndpoint(endpoint)) { try socket.connect(endpoint) }
  }
}
