import PosternAudit
import PosternConfig
import PosternCrypto
import PosternMasking
import PosternTLS

/// Reloads the configuration file on SIGHUP, or when the file changes and then holds still
/// for one interval (as a ConfigMap update lands). A file that does not load, validate, or
/// build its masking policies and credentials is rejected with every reason, and the
/// running configuration stays.
struct ConfigWatcher {
    let file: String?
    let overrides: ConfigOverrides
    private(set) var running: PosternConfig
    private var digest: String
    /// The stamp of the file last loaded or rejected: not tried again until it changes.
    private var tried: [Int64]?
    private var seen: [Int64]?
    private var hangups = 0

    /// What a successful reload puts in place.
    struct Applied {
        var config: PosternConfig
        var masking: [String: MaskingPolicy]
        var credentials: Credentials
    }

    /// Where reloads and rejections are recorded.
    let audit: AuditWiring?

    init(file: String?, overrides: ConfigOverrides, running: PosternConfig, audit: AuditWiring? = nil) {
        self.file = file
        self.audit = audit
        self.overrides = overrides
        self.running = running
        self.digest = Self.digest(of: file)
        self.tried = file.flatMap(TextFile.stamp)
        self.seen = tried
    }

    /// One poll: whether a signal arrived or the file changed and settled.
    mutating func due(hangups now: Int) -> Bool {
        let stamp = file.flatMap(TextFile.stamp)
        defer { seen = stamp }
        if now != hangups {
            hangups = now
            return true
        }
        return stamp != tried && stamp == seen
    }

    /// Reads the file again; the new set to apply, or nil (rejected or unchanged, logged).
    mutating func reload(generation: Int) -> Applied? {
        tried = file.flatMap(TextFile.stamp)
        let newDigest = Self.digest(of: file)
        let draft = PosternConfig.assemble(file: file, overrides: overrides)
        guard draft.problems.isEmpty else {
            reject(draft.problems.map(\.description), digest: newDigest)
            return nil
        }
        let reload = running.reloading(draft.config)
        if !reload.needRestart.isEmpty {
            Log.warning("postern: configuration: \(reload.needRestart.joined(separator: ", ")) changed; "
                        + "that takes effect on restart, the running values stay")
        }
        guard !reload.applied.isEmpty else {
            digest = newDigest
            Log.info("postern: configuration reread, nothing to apply (sha256 \(newDigest.prefix(16)))")
            return nil
        }
        var problems: [String] = []
        var masking: [String: MaskingPolicy] = [:]
        for settings in reload.merged.masking {
            switch MaskingPolicy.build(settings) {
            case .success(let policy): masking[settings.name] = policy
            case .failure(let error): problems.append(error.description)
            }
        }
        let credentials: Credentials?
        switch Credentials.load(reload.merged, generation: generation) {
        case .success(let loaded):
            // As `check` would: a function's credential that cannot be read is a typo to
            // reject, not a reason to refuse that function's requests from now on.
            credentials = loaded
            problems += loaded.unavailableUpstreamCredentials
        case .failure(let failure):
            credentials = nil
            problems += failure.problems
        }
        guard problems.isEmpty, let credentials else {
            reject(problems, digest: newDigest)
            return nil
        }
        audit?.record(AuditRecord(kind: "config.reloaded").string("old_sha256", digest).string("new_sha256", newDigest)
            .strings("changed", reload.applied).strings("restart_needed", reload.needRestart))
        Log.info("postern: configuration reloaded (sha256 \(digest.prefix(16)) -> \(newDigest.prefix(16)); "
                 + "changed: \(reload.applied.joined(separator: ", ")))")
        for warning in reload.merged.policy.warnings { Log.warning("postern: \(warning.key): \(warning.message)") }
        running = reload.merged
        digest = newDigest
        return Applied(config: reload.merged, masking: masking, credentials: credentials)
    }

    private func reject(_ problems: [String], digest newDigest: String) {
        audit?.record(AuditRecord(kind: "config.rejected").string("old_sha256", digest).string("new_sha256", newDigest)
            .strings("problems", problems))
        Log.error("postern: configuration reload rejected (sha256 \(newDigest.prefix(16))), keeping the running one "
                  + "(sha256 \(digest.prefix(16))):")
        for problem in problems { Log.error("  \(problem)") }
    }

    static func digest(of file: String?) -> String {
        guard let file, let bytes = TextFile.bytes(file) else { return "none" }
        return SHA256.hex(bytes)
    }
}
