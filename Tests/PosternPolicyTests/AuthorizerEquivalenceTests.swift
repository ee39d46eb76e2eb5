import Testing
@testable import PosternPolicy

/// The compiled authorizer decides exactly as the rules read, one by one, would: random
/// policies against a plain reference evaluation.
@Suite struct AuthorizerEquivalenceTests {
    struct Random {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        mutating func pick<T>(_ values: [T]) -> T { values[next(values.count)] }
    }

    static let namespaces = ["app", "batch", "mlops"]
    static let functions = ["inference", "deployment", "telemetry"]
    static let operations = ["infer", "chat_completions", "model_load"]
    static let models = ["llama-3", "llama-70b", "mistral", nil]
    static func id(_ namespace: String, _ account: Int) -> String { "spiffe://td/ns/\(namespace)/sa/w\(account)" }

    static func reference(_ functions: [Authorizer.Function], _ rules: [PolicyRule],
                          _ caller: CallerFacts, _ operation: Operation) -> (Decision.Outcome, String) {
        func applies(_ rule: PolicyRule) -> Bool {
            if !rule.callers.isEmpty, !rule.callers.contains(where: { $0.covers(caller.id) }) { return false }
            if !rule.functions.isEmpty, !rule.functions.contains(operation.function) { return false }
            if !rule.operations.isEmpty, !rule.operations.contains(operation.name) { return false }
            if !rule.namespaces.isEmpty, !(caller.namespace.map(rule.namespaces.contains) ?? false) { return false }
            if !rule.models.isEmpty {
                guard let model = operation.model, rule.models.contains(where: { Glob.matches($0, model) }) else { return false }
            }
            if !rule.versions.isEmpty {
                guard let version = operation.version, rule.versions.contains(where: { Glob.matches($0, version) }) else { return false }
            }
            return true
        }
        let sorted = rules.sorted { $0.name < $1.name }
        if let deny = sorted.first(where: { $0.effect == .deny && applies($0) }) { return (.deny, deny.name) }
        let admitted = functions.first { $0.name == operation.function && $0.callers.contains { $0.covers(caller.id) } }
        guard let allowedBy = admitted.map({ "functions.\($0.name).callers" })
                ?? sorted.first(where: { $0.effect == .allow && applies($0) })?.name else { return (.deny, "default-deny") }
        if let approval = sorted.first(where: { $0.effect == .approval && applies($0) }) { return (.needsApproval, approval.name) }
        return (.allow, allowedBy)
    }

    @Test func compiledDecisionsMatchTheReference() {
        var random = Random(state: 42)
        for _ in 0..<200 {
            let functions = Self.functions.map { name in
                Authorizer.Function(name: name, callers: (0..<random.next(3)).map { _ in
                    random.next(2) == 0 ? .exact(Self.id(random.pick(Self.namespaces), random.next(3)))
                                        : .under("spiffe://td/ns/\(random.pick(Self.namespaces))/")
                })
            }
            let rules: [PolicyRule] = (0..<random.next(8)).map { index in
                var rule = PolicyRule(name: "r\(random.next(20))-\(index)", effect: random.pick(PolicyRule.Effect.allCases))
                if random.next(3) == 0 { rule.callers = [.exact(Self.id(random.pick(Self.namespaces), random.next(3)))] }
                if random.next(3) == 0 { rule.functions = [random.pick(Self.functions)] }
                if random.next(3) == 0 { rule.operations = [random.pick(Self.operations)] }
                if random.next(3) == 0 { rule.namespaces = [random.pick(Self.namespaces)] }
                if random.next(3) == 0 { rule.models = [random.pick(["llama-*", "mistral", "*-70b"])] }
                if random.next(4) == 0 { rule.versions = [random.pick(["1", "2*"])] }
                return rule
            }
            let authorizer = Authorizer(functions: functions, rules: rules)
            for _ in 0..<30 {
                let caller = CallerFacts(id: Self.id(random.pick(Self.namespaces), random.next(3)))
                let operation = Operation(function: random.pick(Self.functions), name: random.pick(Self.operations),
                                          model: random.pick(Self.models), version: random.pick(["1", "20", nil]),
                                          profile: "test")
                let decision = authorizer.decide(caller, operation)
                let expected = Self.reference(functions, rules, caller, operation)
                #expect(decision.outcome == expected.0 && decision.rule == expected.1,
                        "\(caller.id) \(operation) with \(rules)")
            }
        }
    }
}
