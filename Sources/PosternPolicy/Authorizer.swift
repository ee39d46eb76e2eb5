/// Authorize, with the semantics of Cedar and Istio: default deny; a matching deny rule
/// beats every allow; a matching approval rule turns an allow into "needs approval"; the
/// result never depends on the order rules are written in (ties go to the rule whose name
/// sorts first), and every decision names the rule that made it.
///
/// A function's callers are an allow rule of their own (`functions.NAME.callers`). Rules
/// are compiled at load into lookups so a decision reads only the rules that could apply:
/// by exact caller ID (a hash map), by pattern (the ID's ancestors looked up in a hash map,
/// no scan over patterns), or, for rules about any caller, by function.
public struct Authorizer: Sendable {
    /// A function and the callers it admits.
    public struct Function: Sendable, Equatable {
        public var name: String
        public var callers: [CallerPattern]
        public init(name: String, callers: [CallerPattern]) {
            self.name = name
            self.callers = callers
        }
    }

    /// What a caller ID is filed under: the functions that admit it, and the rules that
    /// name it (by effect and position), so one pass of lookups serves the whole decision.
    enum CallerEntry: Sendable {
        case function(name: String, rule: String)
        case rule(PolicyRule.Effect, Int)
    }

    private let byCaller: CallerIndex<CallerEntry>
    private let denies: RuleIndex
    private let approvals: RuleIndex
    private let allows: RuleIndex
    /// Whether some rule names models: then a request whose body names its model is read
    /// before it is decided.
    public let readsModels: Bool
    /// Whether an allow rule names models: only then can a model read from the body turn
    /// a default deny into an allow.
    public let allowsByModel: Bool

    public init(functions: [Function], rules: [PolicyRule]) {
        readsModels = rules.contains { !$0.models.isEmpty || !$0.versions.isEmpty }
        allowsByModel = rules.contains { $0.effect == .allow && (!$0.models.isEmpty || !$0.versions.isEmpty) }
        var callers = CallerIndex<CallerEntry>()
        for function in functions {
            let rule = "functions.\(function.name).callers"
            for caller in function.callers { callers.add(caller, .function(name: function.name, rule: rule)) }
        }
        let sorted = rules.sorted { $0.name < $1.name }
        func index(_ effect: PolicyRule.Effect) -> RuleIndex {
            let rules = sorted.filter { $0.effect == effect }
            for (position, rule) in rules.enumerated() {
                for caller in rule.callers { callers.add(caller, .rule(effect, position)) }
            }
            return RuleIndex(rules)
        }
        denies = index(.deny)
        approvals = index(.approval)
        allows = index(.allow)
        byCaller = callers
    }

    public func decide(_ caller: CallerFacts, _ operation: Operation,
                       _ context: RequestContext = RequestContext(time: 0)) -> Decision {
        // One pass over what the caller ID is filed under.
        var admittedBy: String?
        var named = (deny: Int.max, approval: Int.max, allow: Int.max)
        func visit(_ entry: CallerEntry) {
            switch entry {
            case .function(let name, let rule):
                if admittedBy == nil, name == operation.function { admittedBy = rule }
            case .rule(.deny, let index):
                if index < named.deny, denies.applies(index, caller, operation, context) { named.deny = index }
            case .rule(.approval, let index):
                if index < named.approval, approvals.applies(index, caller, operation, context) { named.approval = index }
            case .rule(.allow, let index):
                if index < named.allow, allows.applies(index, caller, operation, context) { named.allow = index }
            }
        }
        // An identity spelled like a group (an OIDC subject "group:admins") is not one.
        if !caller.id.hasPrefix("group:") { byCaller.forEach(caller.id, visit) }
        for group in caller.groups { byCaller.forEach("group:" + group, visit) }
        if let deny = denies.first(caller, operation, context, from: named.deny) {
            return Decision(.deny, rule: deny.name, reason: "\(caller.id) may not call \(describe(operation)): denied by rule '\(deny.name)'")
        }
        let allowedBy: String
        if let admittedBy {
            allowedBy = admittedBy
        } else if let allow = allows.first(caller, operation, context, from: named.allow) {
            allowedBy = allow.name
        } else {
            return Decision(.deny, rule: "default-deny",
                            reason: "\(caller.id) is not a caller of the \(operation.function) function (\(describe(operation)))")
        }
        if let approval = approvals.first(caller, operation, context, from: named.approval) {
            return Decision(.needsApproval, rule: approval.name,
                            reason: "\(describe(operation)) needs approval (rule '\(approval.name)')")
        }
        return Decision(.allow, rule: allowedBy, reason: "allowed")
    }

    private func describe(_ operation: Operation) -> String {
        operation.model.map { "\(operation.name) on model '\($0)'" } ?? operation.name
    }
}

/// Values filed under caller patterns, found for an ID without scanning the patterns: exact
/// IDs by hash, `…/*` patterns by looking up each ancestor path of the ID.
struct CallerIndex<Value: Sendable>: Sendable {
    private var exact: [String: [Value]] = [:]
    /// Keyed by the pattern's text before `*` (ending in `/`).
    private var under: [Substring: [Value]] = [:]

    mutating func add(_ pattern: CallerPattern, _ value: Value) {
        switch pattern {
        case .exact(let id): exact[id, default: []].append(value)
        case .under(let base): under[base[...], default: []].append(value)
        }
    }

    var isEmpty: Bool { exact.isEmpty && under.isEmpty }

    /// Calls `body` with every value filed under a pattern that covers `id`.
    func forEach(_ id: String, _ body: (Value) -> Void) {
        exact[id]?.forEach(body)
        guard !under.isEmpty, let colon = id.firstIndex(of: ":"), id[colon...].hasPrefix("://") else { return }
        var index = id.index(colon, offsetBy: 3)
        while let slash = id[index...].firstIndex(of: "/") {
            let ancestor = id[...slash]
            // A pattern covers IDs strictly below it.
            if ancestor.endIndex < id.endIndex { under[ancestor]?.forEach(body) }
            index = id.index(after: slash)
        }
    }

}

/// The rules of one effect, compiled: each rule is filed under its most selective
/// condition (its callers, in the authorizer's caller index, else its functions, operations,
/// namespaces, exact models or model prefixes), so a
/// decision reads the few rules filed under what the request is; the first that applies, by
/// name, wins.
struct RuleIndex: Sendable {
    /// One rule's conditions, read in place (a class: no copy of its sets per check).
    final class Compiled: Sendable {
        let rule: PolicyRule
        let functions: Set<String>
        let operations: Set<String>
        let namespaces: Set<String>
        let models: [[UInt8]]
        let versions: [[UInt8]]
        /// Times, headers or sources: conditions on the request's context.
        let hasContextConditions: Bool
        init(_ rule: PolicyRule) {
            hasContextConditions = rule.times != nil || !rule.headers.isEmpty || !rule.sources.isEmpty
            self.rule = rule
            functions = rule.functions
            operations = rule.operations
            namespaces = rule.namespaces
            models = rule.models.map { Array($0.utf8) }
            versions = rule.versions.map { Array($0.utf8) }
        }
    }

    private let rules: [Compiled]
    private var byFunction: [String: [Int]] = [:]
    private var byOperation: [String: [Int]] = [:]
    private var byNamespace: [String: [Int]] = [:]
    private var byModel: [String: [Int]] = [:]
    /// Glob models by their literal start (`llama-3-*` under `llama-3-`), looked up with the
    /// request model's prefixes of each length present.
    private var byModelPrefix: [Substring: [Int]] = [:]
    private var modelPrefixLengths: [Int] = []
    private var general: [Int] = []

    /// `rules` sorted by name.
    init(_ rules: [PolicyRule]) {
        self.rules = rules.map(Compiled.init)
        for (index, rule) in rules.enumerated() {
            if !rule.callers.isEmpty {
                continue  // filed in the authorizer's caller index
            } else if !rule.functions.isEmpty {
                for function in rule.functions { byFunction[function, default: []].append(index) }
            } else if !rule.operations.isEmpty {
                for operation in rule.operations { byOperation[operation, default: []].append(index) }
            } else if !rule.namespaces.isEmpty {
                for namespace in rule.namespaces { byNamespace[namespace, default: []].append(index) }
            } else if !rule.models.isEmpty, rule.models.allSatisfy({ !$0.hasPrefix("*") }) {
                for model in rule.models {
                    if let star = model.firstIndex(of: "*") {
                        let prefix = model[..<star]
                        byModelPrefix[prefix, default: []].append(index)
                        if !modelPrefixLengths.contains(prefix.utf8.count) { modelPrefixLengths.append(prefix.utf8.count) }
                    } else {
                        byModel[model, default: []].append(index)
                    }
                }
            } else {
                general.append(index)
            }
        }
    }

    /// The first rule, by name, that applies: `best` is the position of one already found
    /// through the caller index (or `Int.max`).
    func first(_ caller: CallerFacts, _ operation: Operation, _ context: RequestContext, from best: Int) -> PolicyRule? {
        var best = best
        func consider(_ index: Int) {
            if index < best, applies(index, caller, operation, context) { best = index }
        }
        if !byFunction.isEmpty { byFunction[operation.function]?.forEach(consider) }
        if !byOperation.isEmpty { byOperation[operation.name]?.forEach(consider) }
        if !byNamespace.isEmpty, let namespace = caller.namespace { byNamespace[namespace]?.forEach(consider) }
        if let model = operation.model {
            if !byModel.isEmpty { byModel[model]?.forEach(consider) }
            for length in modelPrefixLengths where length <= model.utf8.count {
                let end = model.utf8.index(model.utf8.startIndex, offsetBy: length)
                // A cut inside a character cannot equal a literal prefix.
                if end < model.utf8.endIndex, model.utf8[end] & 0xC0 == 0x80 { continue }
                byModelPrefix[Substring(model.utf8[..<end])]?.forEach(consider)
            }
        }
        general.forEach(consider)
        return best == Int.max ? nil : rules[best].rule
    }

    /// The rule's conditions but its callers (the index found it by caller, or it has none).
    func applies(_ index: Int, _ caller: CallerFacts, _ operation: Operation, _ context: RequestContext) -> Bool {
        let compiled = rules[index]
        if !compiled.functions.isEmpty, !compiled.functions.contains(operation.function) { return false }
        if !compiled.operations.isEmpty, !compiled.operations.contains(operation.name) { return false }
        if !compiled.namespaces.isEmpty {
            guard let namespace = caller.namespace, compiled.namespaces.contains(namespace) else { return false }
        }
        if !compiled.models.isEmpty {
            // A rule about models does not apply to a request that names none.
            guard let model = operation.model, compiled.models.contains(where: { Glob.matches($0, model) }) else { return false }
        }
        if !compiled.versions.isEmpty {
            guard let version = operation.version, compiled.versions.contains(where: { Glob.matches($0, version) }) else {
                return false
            }
        }
        guard compiled.hasContextConditions else { return true }
        let rule = compiled.rule
        if let times = rule.times, !times.contains(context.time) { return false }
        for (name, values) in rule.headers {
            guard let value = context.headers.value(of: name), values.contains(value) else { return false }
        }
        if !rule.sources.isEmpty {
            guard let source = context.source, rule.sources.contains(where: { $0.contains(source) }) else { return false }
        }
        return true
    }
}
