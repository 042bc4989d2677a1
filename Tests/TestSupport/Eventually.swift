import Foundation

/// Polls every 20 ms until `condition` holds or `seconds` pass; returns whether it held. A
/// deadline, not a sleep standing in for readiness.
public func eventually(_ seconds: Double = 60, _ condition: () -> Bool) -> Bool {
  let deadline = Date().addingTimeInterval(seconds)
  while Date() < deadline {
    if condition() { return true }
    usleep(20_000)
  }
  return condition()
}
