import PosternConfig

/// Re-reads credential files when they change, without a restart. spiffe-helper and
/// cert-manager rewrite several files, in several steps, so a change is only loaded once
/// every file has stayed the same for one more interval; a set that fails to load (torn,
/// mismatched key, bad bundle) is logged and the previous set stays in use.
public struct CredentialWatcher: Sendable {
    let config: PosternConfig
    var current: Credentials
    /// Stamps of a set that failed to load: not retried until the files change again.
    var failed: [String: [Int64]]?

    public init(config: PosternConfig, current: Credentials) {
        self.config = config
        self.current = current
    }

    /// Polls until the task is cancelled.
    public mutating func run(apply: (Credentials) async -> Void, log: (String) -> Void, warn: (String) -> Void) async {
        let interval = config.identity.reloadInterval
        var seen = current.files
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            let now = current.stampsNow()
            defer { seen = now }
            // Unchanged since the last load (or the last failure), or still being written.
            guard now != current.files, now != failed, now == seen else { continue }
            switch Credentials.load(config, generation: current.generation + 1) {
            case .success(let fresh) where fresh.files == now:
                current = fresh
                failed = nil
                await apply(fresh)
                log("postern: credentials reloaded (generation \(fresh.generation))")
            case .success:
                continue  // changed again while being read: try once it settles
            case .failure(let problems):
                failed = now
                warn("postern: credential reload failed, keeping the previous set: "
                    + problems.problems.joined(separator: "; "))
            }
        }
    }
}
