import PosternCore
import Yams

/// A configuration as read: the values that parsed, every problem found, and the line of
/// each key, so that problems found once the file is merged still point into it.
public struct ConfigDraft: Sendable {
    public var config: PosternConfig
    public var problems: [ConfigProblem]
    var lines: [String: Int] = [:]

    /// The line of `key`, or of the nearest enclosing key that has one.
    func line(of key: String) -> Int? {
        var key = Substring(key)
        while !key.isEmpty {
            if let line = lines[String(key)] { return line }
            guard let cut = key.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            key = key[..<cut]
        }
        return nil
    }
}

extension PosternConfig {
    /// Reads the file (if any), applies the command line and validates the result, reporting
    /// every problem of every stage in one pass.
    public static func assemble(file: String?, overrides: ConfigOverrides) -> ConfigDraft {
        var draft = file.map { Self.draft(file: $0) } ?? ConfigDraft(config: PosternConfig(), problems: [])
        switch draft.config.applying(overrides) {
        case .success(let merged): draft.config = merged
        case .failure(let problems): draft.problems += problems.problems
        }
        if draft.problems.allSatisfy({ !$0.key.isEmpty || $0.line != nil }) {
            // A file that could not be read or is not YAML has nothing further to check.
            for var problem in draft.config.validationProblems(file: file ?? "command line") {
                if problem.line == nil, file != nil { problem.line = draft.line(of: problem.key) }
                draft.problems.append(problem)
            }
        }
        return draft
    }

    /// Parses a configuration file's text: what parsed, and every problem.
    public static func draft(yaml: String, file: String) -> ConfigDraft {
        let decoder = ConfigDecoder(file: file)
        var config = PosternConfig()
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            return ConfigDraft(config: config, problems: [
                ConfigProblem(file: file, key: "", message: "not valid YAML: \(error)"),
            ])
        }
        let base = file.lastIndex(of: "/").map { String(file[..<$0]) } ?? ""
        if let root { config.decode(root, decoder, base: base) }
        return ConfigDraft(config: config, problems: decoder.problems, lines: decoder.lines)
    }

    /// Reads and parses a configuration file.
    public static func draft(file: String) -> ConfigDraft {
        switch TextFile.load(file) {
        case .success(let bytes):
            return draft(yaml: String(decoding: bytes, as: UTF8.self), file: file)
        case .failure(let error):
            return ConfigDraft(config: PosternConfig(), problems: [
                ConfigProblem(file: file, key: "", message: "cannot read the file: \(error)"),
            ])
        }
    }

    /// Parses a configuration file's text. Every problem is reported, not just the first.
    /// The result still needs `validated()` once command-line overrides are applied.
    public static func parse(yaml: String, file: String) -> Result<PosternConfig, ConfigProblems> {
        let draft = draft(yaml: yaml, file: file)
        return draft.problems.isEmpty ? .success(draft.config) : .failure(ConfigProblems(problems: draft.problems))
    }

    private mutating func decode(_ root: Node, _ d: ConfigDecoder, base: String) {
        let sections: Set = ["listen", "admin", "health", "upstreams", "routes", "runtime", "limits", "identity", "masking", "forwarding",
                              "profiles", "operations", "functions", "rules", "shadow_rules",
                              "shared_callers", "guards", "audit", "store", "announcements"]
        for (key, node) in d.mapping(root, "", allowed: sections) ?? [] {
            switch key {
            case "listen", "admin":
                for (name, value) in d.mapping(node, key, allowed: key == "listen" ? ["address", "tls"] : ["address", "operators", "tls"]) ?? [] {
                    if key == "admin", name == "tls" {
                        if let on = d.boolean(value, "admin.tls") { adminTLS = on }
                    } else if name == "tls" {
                        tls = TLSSettings.decode(value, "listen.tls", d, base: base)
                    } else if name == "operators" {
                        adminOperators = d.callerPatterns(value, "admin.operators")
                    } else if let address = d.parse(value, "\(key).\(name)", ConfigValues.hostPort) {
                        if key == "listen" { listen = address } else { admin = address }
                    }
                }
            case "audit":
                audit = AuditConfig.decode(node, d, base: base)
            case "store":
                store = StoreConfig.decode(node, d, base: base)
            case "announcements":
                announcements = AnnouncementConfig.decode(node, d, base: base)
            case "health":
                for (_, value) in d.mapping(node, key, allowed: ["address"]) ?? [] {
                    if let address = d.parse(value, "health.address", ConfigValues.hostPort) { health = address }
                }
            case "upstreams":
                for (name, value) in d.mapping(node, key, allowed: nil) ?? [] {
                    if let upstream = Self.decodeUpstream(name, value, d) { upstreams.append(upstream) }
                }
            case "routes":
                for (index, value) in (d.sequence(node, key) ?? []).enumerated() {
                    if let route = Self.decodeRoute(value, "routes[\(index)]", d) { routes.append(route) }
                }
            case "runtime":
                for (name, value) in d.mapping(node, key, allowed: ["event_loop_threads", "request_log", "log_format"]) ?? [] {
                    if name == "request_log" {
                        if let on = d.boolean(value, "runtime.\(name)") { requestLog = on }
                    } else if name == "log_format" {
                        if let format = d.choice(value, "runtime.\(name)", LogFormat.self) { logFormat = format }
                    } else if let n = d.integer(value, "runtime.\(name)", range: 0...1024) {
                        eventLoopThreads = n
                    }
                }
            case "limits":
                limits.decode(node, d)
            case "forwarding":
                forwarding.decode(node, d)
            case "profiles": policy.decodeProfiles(node, d)
            case "operations": policy.decodeOperations(node, d)
            case "functions": policy.decodeFunctions(node, d, base: base)
            case "rules": policy.decodeRules(node, d)
            case "shadow_rules": policy.decodeRules(node, d, section: "shadow_rules")
            case "shared_callers": policy.decodeSharedCallers(node, d)
            case "guards": policy.decodeGuards(node, d)
            case "identity":
                identity.decode(node, d, base: base)
            case "masking":
                for (name, value) in d.mapping(node, key, allowed: nil) ?? [] {
                    if let policy = MaskingSettings.decode(name, value, d, base: base) { masking.append(policy) }
                }
            default:
                break
            }
        }
    }

    private static func decodeUpstream(_ name: String, _ node: Node, _ d: ConfigDecoder) -> Upstream? {
        let key = "upstreams.\(name)"
        let allowed: Set = ["url", "connect_timeout", "response_timeout", "max_connections", "max_idle_connections",
                            "idle_timeout"]
        guard let entries = d.mapping(node, key, allowed: allowed) else { return nil }
        // Without a usable url the upstream still counts as declared, so that routes naming
        // it are not reported as well (the configuration is refused either way).
        let placeholder = Upstream(name: name, wireProtocol: .http1, address: HostPort(host: "", port: 0))
        guard let urlNode = entries.first(where: { $0.0 == "url" })?.1 else {
            d.report(key, node, "an upstream needs a url (http://HOST:PORT or h2c://HOST:PORT)")
            return placeholder
        }
        guard let (kind, address) = d.parse(urlNode, "\(key).url", ConfigValues.upstreamURL) else { return placeholder }
        var upstream = Upstream(name: name, wireProtocol: kind, address: address)
        for (field, value) in entries {
            let path = "\(key).\(field)"
            switch field {
            case "connect_timeout":
                if let v = d.parse(value, path, ConfigValues.duration) { upstream.connectTimeout = v }
            case "response_timeout":
                if let v = d.parse(value, path, ConfigValues.duration) { upstream.responseTimeout = v }
            case "idle_timeout":
                if let v = d.parse(value, path, ConfigValues.duration) { upstream.idleTimeout = v }
            case "max_connections":
                if let v = d.integer(value, path, range: 1...100_000) { upstream.maxConnections = v }
            case "max_idle_connections":
                if let v = d.integer(value, path, range: 0...100_000) { upstream.maxIdleConnections = v }
            default:
                break
            }
        }
        return upstream
    }

    private static func decodeRoute(_ node: Node, _ key: String, _ d: ConfigDecoder) -> Route? {
        guard let entries = d.mapping(node, key, allowed: ["prefix", "upstream", "public", "masking"]) else { return nil }
        let values = Dictionary(entries, uniquingKeysWith: { first, _ in first })
        guard let prefixNode = values["prefix"], let upstreamNode = values["upstream"] else {
            d.report(key, node, "a route needs both prefix and upstream")
            return nil
        }
        guard let prefix = d.string(prefixNode, "\(key).prefix"),
              let upstream = d.string(upstreamNode, "\(key).upstream") else { return nil }
        guard prefix.hasPrefix("/") else {
            d.report("\(key).prefix", prefixNode, "a prefix starts with /")
            return nil
        }
        // Requests are matched after normalisation, so a prefix must be normal itself.
        switch RequestTarget.normalize(prefix, allowAbsoluteForm: false) {
        case .success(let normal) where normal.path == prefix:
            break
        case .success(let normal):
            d.report("\(key).prefix", prefixNode, "write the normalised path '\(normal.path)': requests are matched after normalisation")
        case .failure(let error):
            d.report("\(key).prefix", prefixNode, error.message)
        }
        let isPublic = values["public"].flatMap { d.boolean($0, "\(key).public") } ?? false
        var route = Route(prefix: prefix, upstream: upstream, isPublic: isPublic)
        route.masking = values["masking"].flatMap { d.string($0, "\(key).masking") }
        return route
    }
}

extension Limits {
    fileprivate mutating func decode(_ node: Node, _ d: ConfigDecoder) {
        let sizes: [String: WritableKeyPath<Limits, Int>] = [
            "max_header_list_size": \.maxHeaderListSize, "max_request_body": \.maxRequestBody,
            "max_inspected_body": \.maxInspectedBody,
            "stream_window": \.streamWindow, "connection_window": \.connectionWindow,
        ]
        let counts: [String: WritableKeyPath<Limits, Int>] = [
            "max_concurrent_streams": \.maxConcurrentStreams, "max_connections": \.maxConnections,
            "reset_burst": \.resetBurst, "reset_rate": \.resetRate,
        ]
        let durations: [String: WritableKeyPath<Limits, Duration>] = [
            "header_read_timeout": \.headerReadTimeout, "idle_timeout": \.idleTimeout,
            "stream_idle_timeout": \.streamIdleTimeout, "drain_grace_period": \.drainGracePeriod,
        ]
        let allowed = Set(sizes.keys).union(counts.keys).union(durations.keys)
        for (key, value) in d.mapping(node, "limits", allowed: allowed) ?? [] {
            let path = "limits.\(key)"
            if let field = sizes[key], let v = d.parse(value, path, ConfigValues.byteSize) {
                self[keyPath: field] = v
            } else if let field = counts[key], let v = d.integer(value, path, range: 1...1_000_000) {
                self[keyPath: field] = v
            } else if let field = durations[key], let v = d.parse(value, path, ConfigValues.duration) {
                self[keyPath: field] = v
            }
        }
    }
}
