import Core

/// Takes over the unfinished requests in the store that no live router holds (their lease
/// expired, or this router held them before a restart) and runs them on from where their
/// state says: each choice's prompt and generated tokens are computed again (the prompt's
/// blocks through the fragment cache) and it carries on with the same sampler, detokenizer
/// and stop-matcher state, so the text is what an uninterrupted run gives. Runs on the
/// journal's scan queue, every lease period.
struct RequestTakeover: Sendable {
  let journal: RequestJournal
  let registry: RequestRegistry
  let intake: RequestIntake
  let loop: ServingLoop
  private let log = Log("requests")

  init(journal: RequestJournal, registry: RequestRegistry, intake: RequestIntake, loop: ServingLoop)
  {
    self.journal = journal
    self.registry = registry
    self.intake = intake
    self.loop = loop
  }

  func takeOverOrphans() {
    let ids: [String]
    do {
      // Leased covers a request whose log is made but not registered yet.
      ids = try journal.store.claimOrphans(except: registry.knownIDs.union(journal.leasedIDs))
    } catch {
      return  // Redis is down: the next period tries again
    }
    for id in ids {
      do throws(RequestStateError) {
        let stored = try journal.store.load(id)
        guard stored.status == .running else {
          try? journal.store.release(id)  // it ended between the scan and the claim
          continue
        }
        try intake.check(stored)
        let request = RequestLog(stored: stored, journal: journal)
        registry.register(request)
        journal.holdLease(request)
        journal.takeovers.add(1, ordering: .relaxed)
        log.info(
          "request \(id): taken over after event \(stored.events - 1), "
            + "\(stored.tokens.map(\.count).reduce(0, +)) tokens generated")
        loop.submit(
          intake.submission(
            stored.spec, events: request, prefix: intake.cachedPrefix(for: stored.spec.prompt),
            checkpoints: true, resumed: stored.resumePoints))
      } catch .unavailable {
        continue  // Redis went away: the lease is in this router's name, the next scan retries
      } catch {
        log.error("request \(id) cannot be taken over: \(error)")
        journal.abandon(id, reason: "its stored state cannot be used: \(error)")
      }
    }
  }

  /// Stops running a request another router took over: no more state written from here, its
  /// readers' streams end (they resume from the other router).
  func stopRunning(_ id: String) {
    guard let request = registry.find(id) else { return }
    request.disown()
    loop.cancel(request.spec.loopID)
  }
}
