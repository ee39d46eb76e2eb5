#if canImport(Glibc)
import Glibc
#endif
import PosternApprovals
import PosternCore
import PosternPolicy
import Yams

/// Classification and authorization, as configured.
///
/// YAML keys (top level):
/// - `profiles`: the built-in classification tables to use (default: all of `openai`,
///   `kserve-v2`, `triton`, `tgi`).
/// - `operations`: the operator's own, before the profiles: `{methods, path, function, name,
///   risk}` (`path` like `/retrieve/{model}/**`).
/// - `functions`: map of function name (`inference`, `deployment`, `telemetry`,
///   `data-access` or your own) to `{callers: [SPIFFE ID, OIDC identity, or a
///   `spiffe://td/path/*` pattern], upstream_credential: {file, header, prefix}}`. With
///   functions, every request on a non-public route is classified and authorized; without,
///   any verified identity may call (a warning). The upstream credential is the function's
///   own, read from a mounted file and sent in `header` (default `authorization`, with
///   `prefix` default `Bearer ` there, empty for other headers).
/// - `rules`: `{name, effect: allow|deny|approval, callers, functions, operations, models, versions,
///   namespaces, when: {days: [mon…sun], hours: "09:00-17:00", utc_offset: "+01:00"},
///   headers: {NAME: [values]}, sources: [CIDR]}`; a deny beats every allow, order never
///   matters.
/// - `shadow_rules`: a second rule set, same form, evaluated beside `rules` on every
///   request and only logged (`shadow_decision`, `shadow_rule`): see who a tighter policy
///   would refuse before enforcing it.
/// - `shared_callers`: `[{caller, functions, reason}]`: the only way one identity may be a
///   caller of several functions.
public struct PolicySettings: Sendable, Equatable {
    public var profiles: [String] = BuiltInProfiles.names
    public var operations: [OperationRule] = []
    public var functions: [Authorizer.Function] = []
    public var rules: [PolicyRule] = []
    public var shadowRules: [PolicyRule]?
    public var sharedCallers: [SharedCaller] = []
    /// The model-parameter guard (`guards`).
    public var guards: [ParameterGuard] = []
    /// Who approves, and what the grant allows, by the name of the rule that asks.
    public var approvalRequirements: [String: ApprovalRequirement] = [:]
    /// Function name to its own credential for the model server.
    public var upstreamCredentials: [String: UpstreamCredentialSettings] = [:]

    public struct UpstreamCredentialSettings: Sendable, Equatable {
        public var file: String
        public var header: String
        public var prefix: String
    }

    public struct SharedCaller: Sendable, Equatable {
        public var caller: String
        public var functions: Set<String>
        public var reason: String
    }

    public init() {}

    /// Authorization applies once functions are configured.
    public var isEnforced: Bool { !functions.isEmpty }

    public func classifier() -> Classifier {
        (try? Classifier.build(profiles: profiles, custom: operations).get()) ?? Classifier(rules: operations)
    }

    public func authorizer() -> Authorizer { Authorizer(functions: functions, rules: rules) }

    /// Classification, rules, shadow rules and guards, compiled for the data path.
    public func requestPolicy(inspectionLimit: Int) -> RequestPolicy {
        RequestPolicy(classifier: classifier(), authorizer: authorizer(), shadow: shadowAuthorizer(), guards: guards,
                      inspectionLimit: inspectionLimit)
    }

    /// The shadow rule set's authorizer (with the same functions), when there is one.
    public func shadowAuthorizer() -> Authorizer? {
        shadowRules.map { Authorizer(functions: functions, rules: $0) }
    }
}

extension PolicySettings {
    mutating func decodeProfiles(_ node: Node, _ d: ConfigDecoder) {
        profiles = []
        for (index, entry) in (d.sequence(node, "profiles") ?? []).enumerated() {
            guard let name = d.string(entry, "profiles[\(index)]") else { continue }
            if BuiltInProfiles.rules(name) == nil {
                d.report("profiles[\(index)]", entry, UnknownProfile(name: name).description)
            } else {
                profiles.append(name)
            }
        }
    }

    mutating func decodeOperations(_ node: Node, _ d: ConfigDecoder) {
        for (index, entry) in (d.sequence(node, "operations") ?? []).enumerated() {
            let key = "operations[\(index)]"
            let allowed: Set = ["methods", "path", "function", "name", "risk", "model_field"]
            guard let values = d.mapping(entry, key, allowed: allowed).map({ Dictionary($0, uniquingKeysWith: { a, _ in a }) })
            else { continue }
            guard let pathNode = values["path"], let functionNode = values["function"], let nameNode = values["name"] else {
                d.report(key, entry, "an operation needs path, function and name")
                continue
            }
            guard let text = d.string(pathNode, "\(key).path"), let function = d.string(functionNode, "\(key).function"),
                  let name = d.string(nameNode, "\(key).name") else { continue }
            guard let path = PathPattern(text) else {
                d.report("\(key).path", pathNode, "a path like /retrieve/{model}/** ('*' one segment, '**' the rest, last)")
                continue
            }
            let methods = values["methods"].flatMap { d.strings($0, "\(key).methods") }.map { Set($0.map { $0.uppercased() }) } ?? []
            let risk = values["risk"].flatMap { d.choice($0, "\(key).risk", Operation.Risk.self) } ?? .low
            let modelField = values["model_field"].flatMap { d.string($0, "\(key).model_field") }
            operations.append(OperationRule(methods: methods, path: path, function: function, name: name,
                                            risk: risk, profile: "custom", modelField: modelField))
        }
    }

    mutating func decodeFunctions(_ node: Node, _ d: ConfigDecoder, base: String) {
        for (name, value) in d.mapping(node, "functions", allowed: nil) ?? [] {
            let key = "functions.\(name)"
            var callers: [CallerPattern] = []
            for (field, entry) in d.mapping(value, key, allowed: ["callers", "upstream_credential"]) ?? [] {
                if field == "callers" {
                    callers = d.callerPatterns(entry, "\(key).\(field)")
                } else if let credential = Self.decodeCredential(entry, "\(key).\(field)", d, base: base) {
                    upstreamCredentials[name] = credential
                }
            }
            functions.append(Authorizer.Function(name: name, callers: callers))
        }
    }

    private static func decodeCredential(_ node: Node, _ key: String, _ d: ConfigDecoder,
                                         base: String) -> UpstreamCredentialSettings? {
        guard let entries = d.mapping(node, key, allowed: ["file", "header", "prefix"]) else { return nil }
        let values = Dictionary(entries, uniquingKeysWith: { a, _ in a })
        guard let fileNode = values["file"], let file = d.file(fileNode, "\(key).file", base: base) else {
            if values["file"] == nil { d.report(key, node, "an upstream credential needs a file (a mounted Secret)") }
            return nil
        }
        let header = values["header"].flatMap { d.string($0, "\(key).header") } ?? "authorization"
        if CallerClaims.problem(with: header) != nil || header.hasSuffix("*") {
            d.report("\(key).header", values["header"], "a lowercase header name, e.g. authorization or x-api-key")
            return nil
        }
        let prefix = values["prefix"].flatMap { d.string($0, "\(key).prefix") } ?? (header == "authorization" ? "Bearer " : "")
        return UpstreamCredentialSettings(file: file, header: header, prefix: prefix)
    }

    mutating func decodeRules(_ node: Node, _ d: ConfigDecoder, section: String = "rules") {
        var names: Set<String> = []
        var decoded: [PolicyRule] = []
        defer { if section == "rules" { rules = decoded } else { shadowRules = decoded } }
        for (index, entry) in (d.sequence(node, section) ?? []).enumerated() {
            let key = "\(section)[\(index)]"
            let allowed: Set = ["name", "effect", "callers", "functions", "operations", "models", "versions", "namespaces",
                                "when", "headers", "sources", "approval"]
            guard let values = d.mapping(entry, key, allowed: allowed).map({ Dictionary($0, uniquingKeysWith: { a, _ in a }) })
            else { continue }
            guard let nameNode = values["name"], let effectNode = values["effect"],
                  let name = d.string(nameNode, "\(key).name"),
                  let effect = d.choice(effectNode, "\(key).effect", PolicyRule.Effect.self) else {
                if values["name"] == nil || values["effect"] == nil { d.report(key, entry, "a rule needs a name and an effect") }
                continue
            }
            if !names.insert(name).inserted { d.report("\(key).name", nameNode, "another rule is called '\(name)'") }
            var rule = PolicyRule(name: name, effect: effect)
            rule.callers = values["callers"].map { d.callerPatterns($0, "\(key).callers") } ?? []
            rule.functions = Set(values["functions"].flatMap { d.strings($0, "\(key).functions") } ?? [])
            rule.operations = Set(values["operations"].flatMap { d.strings($0, "\(key).operations") } ?? [])
            rule.models = values["models"].flatMap { d.strings($0, "\(key).models") } ?? []
            rule.versions = values["versions"].flatMap { d.strings($0, "\(key).versions") } ?? []
            rule.namespaces = Set(values["namespaces"].flatMap { d.strings($0, "\(key).namespaces") } ?? [])
            rule.times = values["when"].flatMap { d.timeWindow($0, "\(key).when") }
            for (header, valuesNode) in values["headers"].flatMap({ d.mapping($0, "\(key).headers", allowed: nil) }) ?? [] {
                if let list = d.strings(valuesNode, "\(key).headers.\(header)") { rule.headers[header.lowercased()] = Set(list) }
            }
            for (position, entry) in (values["sources"].flatMap { d.sequence($0, "\(key).sources") } ?? []).enumerated() {
                guard let text = d.string(entry, "\(key).sources[\(position)]") else { continue }
                if let range = ConfigValues.addressRange(text) {
                    rule.sources.append(range)
                } else {
                    d.report("\(key).sources[\(position)]", entry, "expected an address range like 10.0.0.0/8 or fd00::/8, got '\(text)'")
                }
            }
            if let node = values["approval"] {
                if effect != .approval { d.report("\(key).approval", node, "only a rule with effect: approval has approvers") }
                if let requirement = d.approvalRequirement(node, "\(key).approval"), section == "rules" {
                    approvalRequirements[name] = requirement
                }
            }
            decoded.append(rule)
        }
    }

    mutating func decodeSharedCallers(_ node: Node, _ d: ConfigDecoder) {
        for (index, entry) in (d.sequence(node, "shared_callers") ?? []).enumerated() {
            let key = "shared_callers[\(index)]"
            guard let values = d.mapping(entry, key, allowed: ["caller", "functions", "reason"])
                .map({ Dictionary($0, uniquingKeysWith: { a, _ in a }) }) else { continue }
            guard let caller = values["caller"].flatMap({ d.string($0, "\(key).caller") }),
                  let functions = values["functions"].flatMap({ d.strings($0, "\(key).functions") }),
                  let reason = values["reason"].flatMap({ d.string($0, "\(key).reason") }), !reason.isEmpty else {
                d.report(key, entry, "a shared caller needs caller, functions and a written reason")
                continue
            }
            sharedCallers.append(SharedCaller(caller: caller, functions: Set(functions), reason: reason))
        }
    }

    /// What is allowed but probably not meant: said by `check` and at start-up.
    public var warnings: [(key: String, message: String)] {
        var warnings: [(key: String, message: String)] = []
        if !isEnforced {
            warnings.append(("functions", "no functions configured: every verified identity may call every route"))
        }
        for function in functions where function.callers.isEmpty {
            warnings.append(("functions.\(function.name).callers", "a function without callers admits no one"))
        }
        for (index, rule) in rules.enumerated() where rule.effect == .approval
            && approvalRequirements[rule.name]?.approvers.isEmpty != false {
            warnings.append(("rules[\(index)].approval.approvers", "nobody can approve what rule '\(rule.name)' holds: "
                             + "its requests wait until they expire"))
        }
        // gRPC methods whose messages Postern cannot read (no known model or parameters).
        let grpcLines = classifier().rules.filter {
            if $0.messageModel == nil, case .literal(let first)? = $0.path.segments.first { return first.contains(".") }
            return false
        }
        for (index, guardRule) in guards.enumerated() {
            let covered = Set(grpcLines.filter { guardRule.functions.contains($0.function)
                && (guardRule.operations.isEmpty || guardRule.operations.contains($0.name)) }.map(\.name))
            guard !covered.isEmpty else { continue }
            warnings.append(("guards[\(index)]", "guard '\(guardRule.name)' covers gRPC methods (\(covered.sorted().joined(separator: ", "))) "
                             + "whose messages it cannot read: their calls are refused; list its operations to scope it"))
        }
        return warnings
    }

    /// Separation of duties: one identity (or pattern) in several functions is an error
    /// unless `shared_callers` allows it with a reason; functions must exist for rules.
    func problems(report: (String, String) -> Void) {
        var functionsOf: [String: [String]] = [:]
        for function in functions {
            for caller in function.callers { functionsOf[caller.description, default: []].append(function.name) }
        }
        for (caller, names) in functionsOf.sorted(by: { $0.key < $1.key }) where names.count > 1 {
            let allowed = sharedCallers.contains { $0.caller == caller && Set(names).isSubset(of: $0.functions) }
            if !allowed {
                report("functions", "\(caller) is a caller of \(names.joined(separator: " and ")): one identity, one job "
                       + "(or list it in shared_callers with a reason)")
            }
        }
        var credentialFiles: [String: [String]] = [:]
        for (function, credential) in upstreamCredentials { credentialFiles[credential.file, default: []].append(function) }
        for (file, names) in credentialFiles.sorted(by: { $0.key < $1.key }) where names.count > 1 {
            report("functions", "\(names.sorted().joined(separator: " and ")) share the upstream credential \(file): "
                   + "each function needs its own")
        }
        reportDeploymentReachableByInference(report)
        let known = Set(functions.map(\.name)).union(operations.map(\.function))
            .union(["inference", "deployment", "telemetry", "data-access"])
        for (section, set) in [("rules", rules), ("shadow_rules", shadowRules ?? [])] {
            for (index, rule) in set.enumerated() {
                for name in rule.functions.sorted() where !known.contains(name) {
                    report("\(section)[\(index)].functions", "no function called '\(name)'")
                }
            }
        }
        if !guards.isEmpty, !isEnforced {
            report("guards", "guards apply to authorized requests: configure functions")
        }
        for (index, guardRule) in guards.enumerated() {
            for name in guardRule.functions.sorted() where !known.contains(name) {
                report("guards[\(index)].functions", "no function called '\(name)'")
            }
        }
    }
}

extension PolicySettings {
    /// An allow rule that lets a caller of `inference` reach a `deployment` operation undoes
    /// the separation of the two: an error, whatever other conditions (models, hours) it has.
    func reportDeploymentReachableByInference(_ report: (String, String) -> Void) {
        guard let inference = functions.first(where: { $0.name == "inference" }), !inference.callers.isEmpty else { return }
        let deploymentOperations = Set(classifier().rules.filter { $0.function == "deployment" }.map(\.name))
        for (index, rule) in rules.enumerated() where rule.effect == .allow {
            let reachesDeployment = rule.functions.isEmpty
                ? rule.operations.isEmpty || !rule.operations.isDisjoint(with: deploymentOperations)
                : rule.functions.contains("deployment")
            guard reachesDeployment else { continue }
            let overlapping = inference.callers.filter { caller in
                let namespaceMatches = rule.namespaces.isEmpty || Self.namespaces(of: caller).map {
                    $0.isEmpty || !rule.namespaces.isDisjoint(with: $0) } ?? true
                let callerMatches = rule.callers.isEmpty || rule.callers.contains { Self.overlap($0, caller) }
                return namespaceMatches && callerMatches
            }
            if let caller = overlapping.first {
                report("rules[\(index)]", "allow rule '\(rule.name)' lets \(caller), a caller of inference, reach deployment "
                       + "operations: give deployment its own callers (or deny the overlap)")
            }
        }
    }

    /// Whether some identity is covered by both patterns.
    static func overlap(_ a: CallerPattern, _ b: CallerPattern) -> Bool {
        switch (a, b) {
        case (.exact(let x), .exact(let y)): x == y
        // The pattern must cover the exact ID (an exact pattern always covers itself).
        case (.exact(let id), .under): b.covers(id)
        case (.under, .exact(let id)): a.covers(id)
        case (.under(let x), .under(let y)): x.hasPrefix(y) || y.hasPrefix(x)
        }
    }

    /// The namespaces a caller pattern can name: one for an exact ID or a pattern under
    /// `/ns/NS/`, none known (empty: any) for broader patterns, nil for non-SPIFFE identities.
    static func namespaces(of caller: CallerPattern) -> Set<String>? {
        let text: String
        switch caller {
        case .exact(let id): text = id
        case .under(let base): text = base
        }
        guard text.hasPrefix("spiffe://") else { return nil }
        let parts = text.dropFirst("spiffe://".count).split(separator: "/")
        return parts.count >= 3 && parts[1] == "ns" ? [String(parts[2])] : []
    }
}

extension ConfigDecoder {
    /// `{approvers, approvals_needed, reason_required, pending_ttl, grant_ttl, grant_uses,
    /// bind_to_request, hold_open}`.
    func approvalRequirement(_ node: Node, _ key: String) -> ApprovalRequirement? {
        let allowed: Set = ["approvers", "approvals_needed", "reason_required", "pending_ttl", "grant_ttl", "grant_uses",
                            "bind_to_request", "hold_open"]
        guard let entries = mapping(node, key, allowed: allowed) else { return nil }
        var requirement = ApprovalRequirement(approvers: [])
        for (field, value) in entries {
            let path = "\(key).\(field)"
            switch field {
            case "approvers": requirement.approvers = callerPatterns(value, path).map(\.description)
            case "approvals_needed": requirement.approvalsNeeded = integer(value, path, range: 1...20) ?? 1
            case "reason_required": requirement.reasonRequired = boolean(value, path) ?? false
            case "grant_uses": requirement.grantUses = integer(value, path, range: 1...1_000_000) ?? 1
            case "bind_to_request": requirement.bindToRequest = boolean(value, path) ?? true
            default:
                guard let duration = parse(value, path, ConfigValues.duration) else { continue }
                let seconds = duration.components.seconds
                let most: Int64 = field == "hold_open" ? 300 : 7 * 86_400
                guard seconds >= 1, seconds <= most else {
                    report(path, value, field == "hold_open" ? "between 1s and 5m" : "between 1s and 7 days")
                    continue
                }
                switch field {
                case "pending_ttl": requirement.pendingTTL = seconds
                case "grant_ttl": requirement.grantTTL = seconds
                default: requirement.holdOpen = seconds
                }
            }
        }
        return requirement
    }

    /// A list of strings.
    func strings(_ node: Node, _ key: String) -> [String]? {
        guard let items = sequence(node, key) else { return nil }
        return items.enumerated().compactMap { string($0.element, "\(key)[\($0.offset)]") }
    }

    func callerPatterns(_ node: Node, _ key: String) -> [CallerPattern] {
        guard let items = sequence(node, key) else { return [] }
        var patterns: [CallerPattern] = []
        for (index, item) in items.enumerated() {
            guard let text = string(item, "\(key)[\(index)]") else { continue }
            if let pattern = CallerPattern(text) {
                patterns.append(pattern)
            } else {
                report("\(key)[\(index)]", item, "'\(text)': an identity, or spiffe://TRUST-DOMAIN/PATH/* (anchored at a trust domain)")
            }
        }
        return patterns
    }
}

extension ConfigDecoder {
    /// `{days: [mon, tue, …], hours: "HH:MM-HH:MM", utc_offset: "+HH:MM" | time_zone: Area/City}`,
    /// each optional; a time zone is read from the tzdata files (`TZDIR`, else /usr/share/zoneinfo).
    func timeWindow(_ node: Node, _ key: String) -> TimeWindow? {
        guard let entries = mapping(node, key, allowed: ["days", "hours", "utc_offset", "time_zone"]) else { return nil }
        if entries.contains(where: { $0.0 == "utc_offset" }), entries.contains(where: { $0.0 == "time_zone" }) {
            report(key, node, "give utc_offset or time_zone, not both")
        }
        var window = TimeWindow()
        let names = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        for (field, value) in entries {
            let path = "\(key).\(field)"
            switch field {
            case "days":
                var days: Set<Int> = []
                for name in strings(value, path) ?? [] {
                    if let day = names.firstIndex(of: String(name.lowercased().prefix(3))) { days.insert(day) } else {
                        report(path, value, "'\(name)' is not a day (mon, tue, wed, thu, fri, sat, sun)")
                    }
                }
                window.days = days
            case "hours":
                guard let text = string(value, path) else { continue }
                let parts = text.split(separator: "-")
                guard parts.count == 2, let from = Self.minutes(parts[0]), let to = Self.minutes(parts[1]), from != to else {
                    report(path, value, "expected HH:MM-HH:MM (24-hour, may wrap past midnight), got '\(text)'")
                    continue
                }
                window.from = from
                window.to = to
            case "time_zone":
                guard let name = string(value, path) else { continue }
                window.zone = Self.zone(name, path, value, self)
            default:
                guard let text = string(value, path) else { continue }
                let sign = text.hasPrefix("-") ? -1 : 1
                guard text.hasPrefix("+") || text.hasPrefix("-") || text == "0" || text.uppercased() == "UTC",
                      let minutes = text == "0" || text.uppercased() == "UTC" ? 0 : Self.minutes(text.dropFirst()),
                      minutes <= 14 * 60 else {
                    report(path, value, "expected an offset like +01:00, -05:00 or UTC, got '\(text)'")
                    continue
                }
                window.utcOffsetMinutes = sign * minutes
            }
        }
        return window
    }

    private static func zone(_ name: String, _ key: String, _ node: Node, _ d: ConfigDecoder) -> ZoneOffsets? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            d.report(key, node, "'\(name)' is not a time zone name like Europe/Berlin")
            return nil
        }
        let directory = getenv("TZDIR").map { String(cString: $0) } ?? "/usr/share/zoneinfo"
        switch TextFile.load("\(directory)/\(name)") {
        case .success(let bytes):
            if let zone = ZoneOffsets(name: name, tzif: bytes) { return zone }
            d.report(key, node, "\(directory)/\(name) is not a TZif time zone file")
        case .failure(let error):
            d.report(key, node, "no time zone '\(name)' (\(directory)/\(name): \(error); install tzdata, or give utc_offset)")
        }
        return nil
    }

    private static func minutes(_ text: Substring) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]),
              (0...24).contains(hours), (0...59).contains(minutes), hours * 60 + minutes <= 1440 else { return nil }
        return hours * 60 + minutes
    }
}
