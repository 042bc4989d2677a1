import Core
import Foundation
import Synchronization
import Transport

/// A worker's heartbeats, sent from a thread of their own on a socket of their own (routing
/// id: the control socket's plus `~beat`), so that a long step or a shard being packed never
/// makes a live worker look dead. A worker that is stopped (SIGSTOP), killed, or cut off
/// sends none, and the router notices within its `--worker-timeout`.
final class HeartbeatThread: Sendable {
  /// What the next heartbeat says; the worker's main thread keeps it current.
  struct Report: Sendable {
    var planID: UInt64 = 0
    var dataBytesSent = 0
    var preparedShards = 0
    /// Seconds between heartbeats (a quarter of the worker timeout).
    var interval = 0.25
  }

  static let idSuffix = "~beat"

  private let report = Mutex(Report())
  private let stopped = Atomic<Bool>(false)
  private let wake = DispatchSemaphore(value: 0)
  private let done = DispatchSemaphore(value: 0)

  /// Starts sending to `router` as `routingID` + `~beat` (over Curve with `curve`), with the
  /// data plane's refusals from `refusals`.
  init(
    router: String, routingID: String, curve: WorkerOptions.Curve?, refusals: ZAPHandler?,
    log: Log
  ) {
    let thread = Thread { [self] in
      run(
        router: router, routingID: routingID + Self.idSuffix, curve: curve, refusals: refusals,
        log: log)
      done.signal()
    }
    thread.name = "heartbeats"
    thread.start()
  }

  func update(_ change: (inout Report) -> Void) {
    var value = report.withLock { $0 }
    change(&value)
    report.withLock { [value] in $0 = value }
  }

  /// Stops the thread and waits for it.
  func stop() {
    guard !stopped.exchange(true, ordering: .sequentiallyConsistent) else { return }
    wake.signal()
    done.wait()
  }

  private func run(
    router: String, routingID: String, curve: WorkerOptions.Curve?, refusals: ZAPHandler?,
    log: Log
  ) {
    let socket: ZMQSocket
    do {
      let context = try ZMQContext()
      socket = try ZMQSocket(context, .dealer, sendTimeoutMilliseconds: 0)
      try socket.setRoutingID(routingID)
      if let curve { try socket.makeCurveClient(curve.keys, serverKey: curve.routerKey) }
      try socket.connect(router)
    } catch {
      log.error("heartbeats cannot start: \(error)")
      return
    }
    var sequence: UInt64 = 0
    while !stopped.load(ordering: .sequentiallyConsistent) {
      let now = report.withLock { $0 }
      sequence += 1
      let beat = Heartbeat(
        planID: now.planID, sequence: sequence, dataBytesSent: UInt64(max(now.dataBytesSent, 0)),
        preparedShards: UInt32(clamping: now.preparedShards),
        refusedClients: UInt32(clamping: refusals?.refused[WorkerProcess.dataPlane] ?? 0))
      // A full queue (the router is away) drops the beat: the next one says the same.
      try? socket.send([WireMessage.heartbeat(beat).encoded()])
      // Drain anything sent back (the router never writes here; a stray peer might).
      while (try? socket.receive(timeoutMilliseconds: 0)) ?? nil != nil {}
      _ = wake.wait(timeout: .now() + .milliseconds(Int(now.interval * 1000)))
    }
    socket.close()
  }
}
