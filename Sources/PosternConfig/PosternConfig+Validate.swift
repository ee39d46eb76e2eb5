import PosternCore
import PosternPolicy

extension PosternConfig {
    /// Checks what only makes sense once the file and the command line are merged.
    /// Returns every problem; `file` names where the configuration came from.
    public func validated(file: String) -> Result<PosternConfig, ConfigProblems> {
        let problems = validationProblems(file: file)
        return problems.isEmpty ? .success(self) : .failure(ConfigProblems(problems: problems))
    }

    func validationProblems(file: String) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        func report(_ key: String, _ message: String) {
            problems.append(ConfigProblem(file: file, key: key, message: message))
        }
        if upstreams.isEmpty {
            report("upstreams", "at least one upstream is required (or pass --upstream URL)")
        }
        var names: Set<String> = []
        for upstream in upstreams where !names.insert(upstream.name).inserted {
            report("upstreams.\(upstream.name)", "defined twice")
        }
        for (index, route) in routes.enumerated() where upstream(named: route.upstream) == nil {
            report("routes[\(index)].upstream", "no upstream called '\(route.upstream)'")
        }
        if routes.isEmpty, upstreams.count > 1, upstream(named: "default") == nil {
            report("routes", "with several upstreams, add routes or name one upstream 'default'")
        }
        if limits.streamWindow < 65_535 || limits.streamWindow > Int(Int32.max) {
            report("limits.stream_window", "must be between 64KiB - 1 and 2GiB - 1")
        }
        if limits.connectionWindow < limits.streamWindow || limits.connectionWindow > Int(Int32.max) {
            report("limits.connection_window", "must be at least stream_window and below 2GiB")
        }
        if limits.maxHeaderListSize < 1024 || limits.maxHeaderListSize > 16 << 20 {
            report("limits.max_header_list_size", "must be between 1KiB and 16MiB")
        }
        if let health, health == admin || health == listen {
            report("health.address", "must differ from admin.address and listen.address")
        }
        validateIdentity(report)
        if adminTLS, tls == nil { report("admin.tls", "needs listen.tls: the admin listener serves its certificate") }
        policy.problems(report: report)
        // The admin API is its own job: no identity both calls a function and operates Postern.
        for (index, op) in adminOperators.enumerated() {
            for function in policy.functions where function.callers.contains(where: { PolicySettings.overlap($0, op) }) {
                report("admin.operators[\(index)]", "\(op) may also call the \(function.name) function: "
                       + "operators of the admin API need identities of their own")
            }
        }
        for (index, guardRule) in policy.guards.enumerated() where guardRule.maxBody > limits.maxInspectedBody {
            report("guards[\(index)].max_body", "above limits.max_inspected_body (\(limits.maxInspectedBody) bytes), "
                   + "the most of a body Postern holds")
        }
        for (index, route) in routes.enumerated() {
            if let name = route.masking, name != "none", !masking.contains(where: { $0.name == name }) {
                report("routes[\(index)].masking", "no masking policy called '\(name)'")
            }
        }
        return problems
    }

    private func validateIdentity(_ report: (String, String) -> Void) {
        if tls == nil, !identity.x509Bundles.isEmpty {
            report("identity.x509_bundles", "client certificates need TLS (listen.tls)")
        }
        if tls?.clientCertificates == .required, identity.x509Bundles.isEmpty {
            report("listen.tls.client_certificates", "required client certificates need identity.x509_bundles")
        }
        if identity.leeway > .seconds(300) {
            report("identity.leeway", "at most 5m; a larger skew would stretch every token's lifetime")
        }
        if identity.maxTokenLifetime > .seconds(86_400) || identity.maxTokenLifetime < .seconds(1) {
            report("identity.max_token_lifetime", "between 1s and 24h: a longer-lived token is a standing credential")
        }
        if identity.maxCertificateLifetime < .seconds(60) {
            report("identity.max_certificate_lifetime", "at least 1m")
        }
        if identity.reloadInterval < .milliseconds(100) {
            report("identity.reload_interval", "at least 100ms")
        }
    }

    /// The request policy the data path runs (classify, read the body where needed, decide).
    public func requestPolicy() -> RequestPolicy { policy.requestPolicy(inspectionLimit: limits.maxInspectedBody) }

    /// The masking policy for responses on `route`, if any.
    public func maskingPolicy(for route: Route) -> MaskingSettings? {
        let name = route.masking ?? "default"
        return name == "none" ? nil : masking.first { $0.name == name }
    }

    /// The route a (normalised) request path takes: the first whose prefix covers it by
    /// whole segments, ignoring ASCII case (`RequestTarget.isPath`); without routes, a
    /// non-public route to the only upstream (or the default).
    public func route(forPath path: Substring) -> Route? {
        if routes.isEmpty {
            let name = upstreams.count == 1 ? upstreams[0].name : upstream(named: "default")?.name
            return name.map { Route(prefix: "/", upstream: $0) }
        }
        return routes.first { RequestTarget.isPath(path, under: $0.prefix) }
    }
}
