import PosternConfig

/// Re-reads credential files when they change, without a restart. spiffe-helper and
/// cert-manager rewrite several files, in several steps, so a change is only loaded once
/// every file has stayed the same for one more interval; a set that fails to load (torn,
/// mismatched key, bad bundle) is logged and the previous set stays in use.
public struct CredentialWatcher: Sendable {
    let config: PosternConfig
    public private(set) var current: Credentials
    /// Stamps of a set that failed to load: not retried until the files change again.
    var failed: [String: [Int64]]?

    public init(config: PosternConfig, current: Credentials) {
        self.config = config
        self.current = current
    }

    /// The stamps seen at the last check: a change is loaded once they hold still.
    private var seen: [String: [Int64]]?

    /// One poll, called every `identity.reload_interval`: a new set once the files changed
    /// and settled, nil otherwise (a set that fails to load is reported through `warn`).
    public mutating func check(warn: (String) -> Void) -> Credentials? {
        let now = current.stampsNow()
        defer { seen = now }
        // Unchanged since the last load (or the last failure), or still being written.
        guard now != current.files, now != failed, now == (seen ?? current.files) else { return nil }
        switch Credentials.load(config, generation: current.generation + 1) {
        case .success(let fresh) where fresh.files == now:
            current = fresh
            failed = nil
            return fresh
        case .success:
            return nil  // changed again while being read: try once it settles
        case .failure(let problems):
            failed = now
            warn("postern: credential reload failed, keeping the previous set: " + problems.problems.joined(separator: "; "))
            return nil
        }
    }
}
