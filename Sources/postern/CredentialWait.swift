import PosternConfig
import PosternTLS

/// The first credential set, at start-up. SPIRE issues the first SVID a moment after the
/// pod starts and spiffe-helper writes it in several steps, so files that do not exist yet
/// are waited for (up to `identity.wait_for_credentials`, saying what is missing) instead of
/// exiting into a crash loop. Files that exist but do not make a valid set get a few reload
/// intervals to settle, then start-up fails with the problems.
enum CredentialWait {
    static let settlingAttempts = 3

    static func load(_ config: PosternConfig, signal: TerminationSignal,
                     waiting: (String) -> Void) async -> Result<Credentials, CredentialProblems> {
        let limit = config.identity.waitForCredentials
        let started = ContinuousClock.now
        var lastLogged: ContinuousClock.Instant?
        var invalidInARow = 0
        while true {
            let problems: CredentialProblems
            switch Credentials.load(config) {
            case .success(let credentials): return .success(credentials)
            case .failure(let failure): problems = failure
            }
            invalidInARow = problems.missing.isEmpty ? invalidInARow + 1 : 0
            let waited = ContinuousClock.now - started
            if waited >= limit || invalidInARow > settlingAttempts || signal.received != nil {
                return .failure(problems)
            }
            let reason = problems.missing.isEmpty
                ? "waiting for credential files to settle: " + problems.problems.joined(separator: "; ")
                : "waiting for credential files: " + problems.missing.joined(separator: ", ")
            waiting(reason)
            if lastLogged.map({ ContinuousClock.now - $0 >= .seconds(10) }) ?? true {
                Log.warning("postern: \(reason) (waited \(waited.components.seconds)s of \(limit))")
                lastLogged = ContinuousClock.now
            }
            try? await Task.sleep(for: config.identity.reloadInterval)
        }
    }
}
