/// What a running Postern takes from a changed configuration file. Policy, masking, routes,
/// forwarding and identity apply to the next request; listeners, TLS, upstreams, runtime
/// and limits are fixed when the process starts and wait for a restart (said, not applied).
public struct ConfigReload: Sendable {
    /// The running configuration with the reloadable sections replaced.
    public var merged: PosternConfig
    /// Top-level keys whose value changed and were applied.
    public var applied: [String]
    /// Top-level keys that changed but need a restart.
    public var needRestart: [String]
}

extension PosternConfig {
    public func reloading(_ new: PosternConfig) -> ConfigReload {
        var merged = self
        var applied: [String] = [], needRestart: [String] = []
        func take<T: Equatable>(_ key: String, _ path: WritableKeyPath<PosternConfig, T>) {
            guard self[keyPath: path] != new[keyPath: path] else { return }
            merged[keyPath: path] = new[keyPath: path]
            applied.append(key)
        }
        func keep<T: Equatable>(_ key: String, _ path: KeyPath<PosternConfig, T>) {
            if self[keyPath: path] != new[keyPath: path] { needRestart.append(key) }
        }
        keep("listen", \.listen)
        keep("listen.tls", \.tls)
        keep("admin.address", \.admin)
        keep("health.address", \.health)
        keep("upstreams", \.upstreams)
        keep("runtime", \.eventLoopThreads)
        keep("runtime", \.requestLog)
        keep("runtime", \.logFormat)
        keep("admin.tls", \.adminTLS)
        keep("limits", \.limits)
        keep("audit", \.audit)
        keep("store", \.store)
        keep("announcements", \.announcements)
        take("identity", \.identity)
        take("admin.operators", \.adminOperators)
        take("masking", \.masking)
        take("routes", \.routes)
        take("forwarding", \.forwarding)
        take("profiles", \.policy.profiles)
        take("operations", \.policy.operations)
        take("functions", \.policy.functions)
        take("functions", \.policy.upstreamCredentials)
        take("rules", \.policy.rules)
        take("shadow_rules", \.policy.shadowRules)
        take("shared_callers", \.policy.sharedCallers)
        take("guards", \.policy.guards)
        take("rules", \.policy.approvalRequirements)
        return ConfigReload(merged: merged, applied: Self.unique(applied), needRestart: Self.unique(needRestart))
    }

    private static func unique(_ keys: [String]) -> [String] {
        var seen: Set<String> = []
        return keys.filter { seen.insert($0).inserted }
    }
}
