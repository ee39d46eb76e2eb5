/// Authorize, with the semantics of Cedar and Istio: default deny; a matching deny rule
/// beats every allow; a matching approval rule turns an allow into "needs approval"; the
/// result never depends on the order rules are written in (ties go to the rule whose name
/// sorts first), and every decision names the rule that made it.
///
/// A function's callers are an allow rule of their own (`functions.NAME.callers`). Exact
/// caller IDs are looked up in a hash map; patterns are few and checked in turn.
public struct Authorizer: Sendable {
    /// Function name to the callers it admits.
    public struct Function: Sendable, Equatable {
        public var name: String
        public var callers: [CallerPattern]
        public init(name: String, callers: [CallerPattern]) {
            self.name = name
            self.callers = callers
        }
    }

    private let exactCallers: [String: Set<String>]
    private let patternCallers: [(pattern: CallerPattern, function: String)]
    private let denies: [PolicyRule]
    private let approvals: [PolicyRule]
    private let allows: [PolicyRule]

    public init(functions: [Function], rules: [PolicyRule]) {
        var exact: [String: Set<String>] = [:]
        var patterns: [(CallerPattern, String)] = []
        for function in functions {
            for caller in function.callers {
                switch caller {
                case .exact(let id): exact[id, default: []].insert(function.name)
                case .under: patterns.append((caller, function.name))
                }
            }
        }
        exactCallers = exact
        patternCallers = patterns
        let sorted = rules.sorted { $0.name < $1.name }
        denies = sorted.filter { $0.effect == .deny }
        approvals = sorted.filter { $0.effect == .approval }
        allows = sorted.filter { $0.effect == .allow }
    }

    public func decide(_ caller: CallerFacts, _ operation: Operation) -> Decision {
        let what = operation.model.map { "\(operation.name) on model '\($0)'" } ?? operation.name
        if let deny = denies.first(where: { $0.applies(to: caller, operation) }) {
            return Decision(.deny, rule: deny.name, reason: "\(caller.id) may not call \(what): denied by rule '\(deny.name)'")
        }
        let allowedBy: String? = inFunction(caller.id, operation.function)
            ? "functions.\(operation.function).callers"
            : allows.first(where: { $0.applies(to: caller, operation) })?.name
        guard let allowedBy else {
            return Decision(.deny, rule: "default-deny",
                            reason: "\(caller.id) is not a caller of the \(operation.function) function (\(what))")
        }
        if let approval = approvals.first(where: { $0.applies(to: caller, operation) }) {
            return Decision(.needsApproval, rule: approval.name,
                            reason: "\(what) needs approval (rule '\(approval.name)')")
        }
        return Decision(.allow, rule: allowedBy, reason: "allowed")
    }

    private func inFunction(_ id: String, _ function: String) -> Bool {
        if exactCallers[id]?.contains(function) == true { return true }
        return patternCallers.contains { $0.function == function && $0.pattern.covers(id) }
    }
}
