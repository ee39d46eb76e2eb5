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
        let keys = RuleIndex.Keys(caller, operation)
        if let deny = denies.first(caller, operation, context, keys: keys, from: named.deny) {
            return Decision(.deny, rule: deny.name, why: .deniedByRule(caller: caller.id, operation: operation))
        }
        let allowedBy: String
        if let admittedBy {
            allowedBy = admittedBy
        } else if let allow = allows.first(caller, operation, context, keys: keys, from: named.allow) {
            allowedBy = allow.name
        } else {
            return Decision(.deny, rule: "default-deny", why: .notACaller(caller: caller.id, operation: operation))
        }
        if let approval = approvals.first(caller, operation, context, keys: keys, from: named.approval) {
            return Decision(.needsApproval, rule: approval.name, why: .needsApproval(operation: operation))
        }
        return Decision(.allow, rule: allowedBy, reason: "allowed")
    }

}

/// Values filed under caller patterns, found for an ID without scanning the patterns: exact
/// IDs by hash, `…/*` patterns by each ancestor path of the ID, every one hashed in a single
/// pass over its bytes.
struct CallerIndex<Value: Sendable>: Sendable {
    private var exact = ByteKeyTable<Value>()
    /// Keyed by the pattern's text before `*` (ending in `/`).
    private var under = ByteKeyTable<Value>()

    mutating func add(_ pattern: CallerPattern, _ value: Value) {
        switch pattern {
        case .exact(let id): exact.add(id, value)
        case .under(let base): under.add(base, value)
        }
    }

    var isEmpty: Bool { exact.isEmpty && under.isEmpty }

    /// Calls `body` with every value filed under a pattern that covers `id`.
    func forEach(_ id: String, _ body: (Value) -> Void) {
        var id = id
        id.withUTF8 { bytes in
            var hash = ByteKeyTable<Value>.seed
            // Ancestors are the prefixes ending in `/` after `scheme://`, strictly shorter
            // than the ID (a pattern covers IDs below it).
            var pathStart = Int.max
            for index in 0..<bytes.count {
                let byte = bytes[index]
                hash = ByteKeyTable<Value>.extend(hash, byte)
                guard byte == UInt8(ascii: "/") else { continue }
                if pathStart == Int.max {
                    if index >= 2, bytes[index - 1] == UInt8(ascii: "/"), bytes[index - 2] == UInt8(ascii: ":"),
                       bytes[..<(index - 2)].firstIndex(of: UInt8(ascii: ":")) == nil {
                        pathStart = index + 1
                    }
                    continue
                }
                if index >= pathStart, index + 1 < bytes.count, !under.isEmpty {
                    under.forEach(hash, UnsafeBufferPointer(rebasing: bytes[...index]), body)
                }
            }
            exact.forEach(hash, bytes, body)
        }
    }
}

/// The rules of one effect, compiled: each rule is filed under its most selective
/// condition (its callers, in the authorizer's caller index, else its functions, operations,
/// namespaces, exact models or model prefixes), so a decision reads the few rules filed
/// under what the request is; the first that applies, by name, wins.
struct RuleIndex: Sendable {
    /// One rule's conditions, read in place (a class: no copy per check). The sets are
    /// short arrays: comparing a few small strings beats hashing one.
    final class Compiled: Sendable {
        let rule: PolicyRule
        let functions: [String]
        let operations: [String]
        let namespaces: [String]
        let models: [[UInt8]]
        let versions: [[UInt8]]
        /// Times, headers or sources: conditions on the request's context.
        let hasContextConditions: Bool
        init(_ rule: PolicyRule) {
            hasContextConditions = rule.times != nil || !rule.headers.isEmpty || !rule.sources.isEmpty
            self.rule = rule
            functions = rule.functions.sorted()
            operations = rule.operations.sorted()
            namespaces = rule.namespaces.sorted()
            models = rule.models.map { Array($0.utf8) }
            versions = rule.versions.map { Array($0.utf8) }
        }
    }

    private let rules: [Compiled]
    private var byFunction = ByteKeyTable<Int>()
    private var byOperation = ByteKeyTable<Int>()
    private var byNamespace = ByteKeyTable<Int>()
    private var byModel = ByteKeyTable<Int>()
    /// Glob models by their literal start (`llama-3-*` under `llama-3-`), looked up with the
    /// request model's prefixes of each length present.
    private var byModelPrefix = ByteKeyTable<Int>()
    /// `true` at each length some literal prefix has.
    private var modelPrefixLengths: [Bool] = []
    private var general: [Int] = []

    /// `rules` sorted by name.
    init(_ rules: [PolicyRule]) {
        self.rules = rules.map(Compiled.init)
        for (index, rule) in rules.enumerated() {
            if !rule.callers.isEmpty {
                continue  // filed in the authorizer's caller index
            } else if !rule.functions.isEmpty {
                for function in rule.functions { byFunction.add(function, index) }
            } else if !rule.operations.isEmpty {
                for operation in rule.operations { byOperation.add(operation, index) }
            } else if !rule.namespaces.isEmpty {
                for namespace in rule.namespaces { byNamespace.add(namespace, index) }
            } else if !rule.models.isEmpty, rule.models.allSatisfy({ !$0.hasPrefix("*") }) {
                for model in rule.models {
                    if let star = model.firstIndex(of: "*") {
                        let prefix = Array(model[..<star].utf8)
                        byModelPrefix.add(prefix, index)
                        if modelPrefixLengths.count <= prefix.count {
                            modelPrefixLengths += [Bool](repeating: false, count: prefix.count + 1 - modelPrefixLengths.count)
                        }
                        modelPrefixLengths[prefix.count] = true
                    } else {
                        byModel.add(model, index)
                    }
                }
            } else {
                general.append(index)
            }
        }
    }

    /// What a decision looks rules up by, hashed once for every index it reads.
    struct Keys {
        let function: HashedName
        let operation: HashedName
        let namespace: HashedName?
        let model: HashedName?

        init(_ caller: CallerFacts, _ operation: Operation) {
            function = HashedName(operation.function)
            self.operation = HashedName(operation.name)
            namespace = caller.namespace.map(HashedName.init)
            model = operation.model.map(HashedName.init)
        }
    }

    /// The first rule, by name, that applies: `best` is the position of one already found
    /// through the caller index (or `Int.max`).
    func first(_ caller: CallerFacts, _ operation: Operation, _ context: RequestContext, keys: Keys,
               from best: Int) -> PolicyRule? {
        var best = best
        func consider(_ index: Int) {
            if index < best, applies(index, caller, operation, context) { best = index }
        }
        byFunction.forEach(keys.function, consider)
        byOperation.forEach(keys.operation, consider)
        if let namespace = keys.namespace { byNamespace.forEach(namespace, consider) }
        if let model = keys.model {
            byModel.forEach(model, consider)
            if !modelPrefixLengths.isEmpty { considerModelPrefixes(model.text, consider) }
        }
        general.forEach(consider)
        return best == Int.max ? nil : rules[best].rule
    }

    private func considerModelPrefixes(_ model: String, _ consider: (Int) -> Void) {
        var model = model
        model.withUTF8 { bytes in
            var hash = ByteKeyTable<Int>.seed
            for length in 0...min(bytes.count, modelPrefixLengths.count - 1) {
                // A cut inside a character cannot equal a literal prefix.
                if modelPrefixLengths[length], length == bytes.count || bytes[length] & 0xC0 != 0x80 {
                    byModelPrefix.forEach(hash, UnsafeBufferPointer(rebasing: bytes[..<length]), consider)
                }
                if length < bytes.count { hash = ByteKeyTable<Int>.extend(hash, bytes[length]) }
            }
        }
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
