/// The outcome of authorization, always with the rule that made it.
public struct Decision: Sendable, Equatable {
    public enum Outcome: String, Sendable { case allow, deny, needsApproval = "needs_approval" }

    public var outcome: Outcome
    /// `functions.inference.callers`, a rule's name, or `default-deny`.
    public var rule: String
    private var why: Why

    /// What the reason is made of: the words are put together only when someone reads them
    /// (a refused caller's error), not on every decision.
    enum Why: Sendable {
        case text(String)
        case deniedByRule(caller: String, operation: Operation)
        case notACaller(caller: String, operation: Operation)
        case needsApproval(operation: Operation)
    }

    public init(_ outcome: Outcome, rule: String, reason: String) {
        self.init(outcome, rule: rule, why: .text(reason))
    }

    init(_ outcome: Outcome, rule: String, why: Why) {
        self.outcome = outcome
        self.rule = rule
        self.why = why
    }

    /// Why, in words a denied caller may read: names its own request, never other rules.
    public var reason: String {
        switch why {
        case .text(let text): text
        case .deniedByRule(let caller, let operation): "\(caller) may not call \(Self.describe(operation)): denied by rule '\(rule)'"
        case .notACaller(let caller, let operation):
            "\(caller) is not a caller of the \(operation.function) function (\(Self.describe(operation)))"
        case .needsApproval(let operation): "\(Self.describe(operation)) needs approval (rule '\(rule)')"
        }
    }

    private static func describe(_ operation: Operation) -> String {
        operation.model.map { "\(operation.name) on model '\($0)'" } ?? operation.name
    }

    public static func == (a: Decision, b: Decision) -> Bool {
        a.outcome == b.outcome && a.rule == b.rule && a.reason == b.reason
    }
}
