/// A request waiting for a human, and everything its decision depends on. Pure data: the
/// transitions are `ApprovalMachine`'s, the storage is the store's.
public struct Approval: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case pending, approved, denied, expired
    }

    /// What one approver said, and why.
    public struct Verdict: Sendable, Equatable {
        public var approver: String
        public var approved: Bool
        public var reason: String
        public var at: Int64

        public init(approver: String, approved: Bool, reason: String, at: Int64) {
            self.approver = approver
            self.approved = approved
            self.reason = reason
            self.at = at
        }
    }

    public var id: String
    public var state: State
    /// Who asked: the verified identity of the request.
    public var requester: String
    public var function: String
    public var operation: String
    public var model: String?
    /// The rule that asked for approval, and what it requires.
    public var rule: String
    public var requirement: ApprovalRequirement
    /// SHA-256 (hex) of the exact request (`RequestDigest`).
    public var digest: String
    /// For the approver: what the request would do, in words.
    public var summary: String
    public var createdAt: Int64
    /// A pending approval expires at this time (seconds since the epoch).
    public var expiresAt: Int64
    public var verdicts: [Verdict] = []

    public init(id: String, requester: String, function: String, operation: String, model: String?, rule: String,
                requirement: ApprovalRequirement, digest: String, summary: String, createdAt: Int64) {
        self.id = id
        self.state = .pending
        self.requester = requester
        self.function = function
        self.operation = operation
        self.model = model
        self.rule = rule
        self.requirement = requirement
        self.digest = digest
        self.summary = summary
        self.createdAt = createdAt
        self.expiresAt = createdAt + requirement.pendingTTL
    }
}

/// What a rule with `effect: approval` asks of its approvers and of the grant that follows.
public struct ApprovalRequirement: Sendable, Equatable {
    /// Identities that may decide: exact IDs, `spiffe://td/path/*` patterns, `group:NAME`.
    public var approvers: [String]
    /// Distinct approvers needed; one deny rejects.
    public var approvalsNeeded: Int
    public var reasonRequired: Bool
    /// Seconds a request may wait for its decision.
    public var pendingTTL: Int64
    /// Seconds a grant lasts once approved, and how many requests it admits.
    public var grantTTL: Int64
    public var grantUses: Int
    /// Whether the grant admits only the exact request approved (its digest).
    public var bindToRequest: Bool
    /// Seconds a held request stays open while it is decided (0: answered at once).
    public var holdOpen: Int64 = 0

    public init(approvers: [String], approvalsNeeded: Int = 1, reasonRequired: Bool = false, pendingTTL: Int64 = 900,
                grantTTL: Int64 = 900, grantUses: Int = 1, bindToRequest: Bool = true) {
        self.approvers = approvers
        self.approvalsNeeded = approvalsNeeded
        self.reasonRequired = reasonRequired
        self.pendingTTL = pendingTTL
        self.grantTTL = grantTTL
        self.grantUses = grantUses
        self.bindToRequest = bindToRequest
    }

    /// Whether `identity` (in `groups`) is one of the approvers.
    public func names(_ identity: String, groups: [String]) -> Bool {
        approvers.contains { approver in
            if approver.hasPrefix("group:") { return groups.contains(String(approver.dropFirst("group:".count))) }
            if approver.hasSuffix("/*") {
                let base = approver.dropLast()
                return identity.utf8.count > base.utf8.count && identity.hasPrefix(base)
            }
            return !identity.hasPrefix("group:") && identity == approver
        }
    }
}
