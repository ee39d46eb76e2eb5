/// The outcome of authorization, always with the rule that made it.
public struct Decision: Sendable, Equatable {
    public enum Outcome: String, Sendable { case allow, deny, needsApproval = "needs_approval" }

    public var outcome: Outcome
    /// `functions.inference.callers`, a rule's name, or `default-deny`.
    public var rule: String
    /// Why, in words a denied caller may read: names its own request, never other rules.
    public var reason: String

    public init(_ outcome: Outcome, rule: String, reason: String) {
        self.outcome = outcome
        self.rule = rule
        self.reason = reason
    }
}
