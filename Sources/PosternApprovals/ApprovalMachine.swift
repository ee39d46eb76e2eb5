/// Every transition of an approval and of the grant it yields, in one place. Each event is
/// checked against the state it meets; anything else is refused with the reason, and the
/// approval is left as it was.
///
///     pending --approve (enough distinct approvers)--> approved  (a grant is issued)
///     pending --approve (not yet enough)--> pending
///     pending --deny (any one approver)--> denied
///     pending --expire (its time passed)--> expired
///     approved, denied, expired: final
public enum ApprovalMachine {
    public enum Event: Sendable, Equatable {
        case approve(by: String, groups: [String], reason: String, at: Int64)
        case deny(by: String, groups: [String], reason: String, at: Int64)
        /// The clock moved on: a pending approval past its expiry expires.
        case tick(at: Int64)
    }

    public enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        case notPending(Approval.State)
        case expired
        case selfApproval
        case notAnApprover(String)
        case alreadyDecided(String)
        case reasonRequired

        public var description: String {
            switch self {
            case .notPending(let state): "the approval is \(state.rawValue), not pending"
            case .expired: "the approval expired before it was decided"
            case .selfApproval: "a requester cannot decide its own request"
            case .notAnApprover(let who): "\(who) is not an approver of this rule"
            case .alreadyDecided(let who): "\(who) has already decided this approval"
            case .reasonRequired: "this rule requires a reason with each decision"
            }
        }
    }

    /// What an accepted event led to.
    public struct Outcome: Sendable, Equatable {
        public var approval: Approval
        /// Issued when the approval became approved.
        public var grant: Grant?
    }

    public static func apply(_ event: Event, to approval: Approval, grantID: () -> String) -> Result<Outcome, Refusal> {
        var next = approval
        switch event {
        case .tick(let now):
            if next.state == .pending, now >= next.expiresAt { next.state = .expired }
            return .success(Outcome(approval: next))
        case .approve(let who, let groups, let reason, let now), .deny(let who, let groups, let reason, let now):
            guard next.state == .pending else { return .failure(.notPending(next.state)) }
            guard now < next.expiresAt else { return .failure(.expired) }
            // The requester never decides its own request, whatever else it may approve.
            guard who != next.requester else { return .failure(.selfApproval) }
            guard next.requirement.names(who, groups: groups) else { return .failure(.notAnApprover(who)) }
            guard !next.verdicts.contains(where: { $0.approver == who }) else { return .failure(.alreadyDecided(who)) }
            let trimmed = reason.trimmingSpaces
            if next.requirement.reasonRequired, trimmed.isEmpty { return .failure(.reasonRequired) }
            let approves: Bool
            if case .approve = event { approves = true } else { approves = false }
            next.verdicts.append(Approval.Verdict(approver: who, approved: approves, reason: trimmed, at: now))
            if !approves {
                next.state = .denied
                return .success(Outcome(approval: next))
            }
            guard next.verdicts.filter(\.approved).count >= next.requirement.approvalsNeeded else {
                return .success(Outcome(approval: next))
            }
            next.state = .approved
            let requirement = next.requirement
            let grant = Grant(id: grantID(), approval: next.id, holder: next.requester, function: next.function,
                              operation: next.operation, model: next.model,
                              digest: requirement.bindToRequest ? next.digest : nil,
                              issuedAt: now, expiresAt: now + requirement.grantTTL, uses: requirement.grantUses)
            return .success(Outcome(approval: next, grant: grant))
        }
    }
}

extension String {
    var trimmingSpaces: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}
