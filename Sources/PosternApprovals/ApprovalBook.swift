/// The approvals and grants of one store, and the two questions the data path asks of them:
/// may this request pass on a grant, and if not, which approval is it waiting for. Pure:
/// the store around it keeps it, locks it and (later) persists it.
public struct ApprovalBook: Sendable {
    public private(set) var approvals: [String: Approval] = [:]
    public private(set) var grants: [String: Grant] = [:]
    /// Grant ids by holder: a request looks at its caller's grants only, however many
    /// others hold one.
    private var holders: [String: [String]] = [:]
    /// Pending approvals by what they wait for (requester, digest, rule), and all of them
    /// for expiry: a request never walks the decided ones.
    private var waiting: [WaitKey: String] = [:]

    private struct WaitKey: Hashable, Sendable {
        var requester: String
        var digest: String
        var rule: String

        init(_ approval: Approval) {
            requester = approval.requester
            digest = approval.digest
            rule = approval.rule
        }

        init(_ request: Request) {
            requester = request.requester
            digest = request.digest
            rule = request.rule
        }
    }

    /// Every change of an approval goes through here, so the index follows.
    private mutating func store(_ approval: Approval) {
        approvals[approval.id] = approval
        let key = WaitKey(approval)
        if approval.state == .pending {
            waiting[key] = approval.id
        } else if waiting[key] == approval.id {
            waiting[key] = nil
        }
    }

    private mutating func store(_ grant: Grant) {
        if grants[grant.id] == nil { holders[grant.holder, default: []].append(grant.id) }
        grants[grant.id] = grant
    }
    private var nextID = 0
    private let prefix: String

    /// `prefix` keeps ids apart across sidecars and restarts (a random string).
    public init(prefix: String) { self.prefix = prefix }

    /// What a request that needs approval gets.
    public enum Answer: Sendable, Equatable {
        /// A grant admits it: it may pass, and what it opens may last `secondsLeft`.
        case granted(grant: String, secondsLeft: Int64)
        /// It waits for this approval (new, or the one already pending for the same request).
        case pending(Approval)
    }

    /// The request the data path holds, as an approval would record it.
    public struct Request: Sendable, Equatable {
        public var requester: String
        public var function: String
        public var operation: String
        public var model: String?
        public var rule: String
        public var digest: String
        public var summary: String

        public init(requester: String, function: String, operation: String, model: String?, rule: String,
                    digest: String, summary: String) {
            self.requester = requester
            self.function = function
            self.operation = operation
            self.model = model
            self.rule = rule
            self.digest = digest
            self.summary = summary
        }
    }

    public mutating func ask(_ request: Request, requirement: ApprovalRequirement, now: Int64) -> Answer {
        expire(now: now)
        // The grant that admits it and ends soonest, so longer ones are kept for later.
        let usable = (holders[request.requester] ?? []).compactMap { grants[$0] }.compactMap { grant -> (Grant, Int64)? in
            guard case .success(let used) = grant.use(by: request.requester, function: request.function,
                                                      operation: request.operation, model: request.model,
                                                      digest: request.digest, at: now) else { return nil }
            return (used.grant, used.secondsLeft)
        }.min { $0.1 < $1.1 }
        if let (used, secondsLeft) = usable {
            store(used)
            return .granted(grant: used.id, secondsLeft: secondsLeft)
        }
        if let id = waiting[WaitKey(request)], let approval = approvals[id] {
            return .pending(approval)
        }
        let approval = Approval(id: newID("apr"), requester: request.requester, function: request.function,
                                operation: request.operation, model: request.model, rule: request.rule,
                                requirement: requirement, digest: request.digest, summary: request.summary, createdAt: now)
        store(approval)
        return .pending(approval)
    }

    /// An approver's decision; the approval as it stands after it, and the grant it issued.
    public mutating func decide(_ id: String, _ event: ApprovalMachine.Event)
        -> Result<ApprovalMachine.Outcome, ApprovalMachine.Refusal>? {
        guard let approval = approvals[id] else { return nil }
        // The grant's id follows from its approval's: every sidecar folding the journal names it alike.
        let grantID = "grt" + (id.hasPrefix("apr") ? id.dropFirst(3) : "-" + id[...])
        let result = ApprovalMachine.apply(event, to: approval, grantID: { grantID })
        if case .success(let outcome) = result {
            store(outcome.approval)
            if let grant = outcome.grant { store(grant) }
        }
        return result
    }

    /// Folds one journal entry written by any sidecar (revocations are not the book's);
    /// a decision's outcome, for the sidecar that waits on it.
    @discardableResult
    public mutating func apply(_ entry: JournalEntry) -> Result<ApprovalMachine.Outcome, ApprovalMachine.Refusal>? {
        switch entry {
        case .asked(let approval):
            if approvals[approval.id] == nil { store(approval) }
        case .decided(let id, let event):
            return decide(id, event)
        case .used(let id, let at):
            if var grant = grants[id], grant.state(at: at) == .active {
                grant.usesLeft -= 1
                store(grant)
            }
        case .grantRevoked(let id):
            _ = revokeGrant(id)
        case .revocationAdded, .revocationRemoved:
            break
        }
        return nil
    }

    /// Takes back an approval just opened (the store could not be told of it).
    public mutating func withdraw(_ id: String) {
        guard let approval = approvals.removeValue(forKey: id) else { return }
        if waiting[WaitKey(approval)] == id { waiting[WaitKey(approval)] = nil }
    }

    /// Revokes a grant early; false when there is none with that id.
    public mutating func revokeGrant(_ id: String) -> Bool {
        guard grants[id] != nil else { return false }
        grants[id]?.revoked = true
        return true
    }

    /// Pending approvals past their time become expired.
    public mutating func expire(now: Int64) {
        for id in waiting.values {
            guard let approval = approvals[id], now >= approval.expiresAt else { continue }
            if case .success(let outcome) = ApprovalMachine.apply(.tick(at: now), to: approval, grantID: { "" }) {
                store(outcome.approval)
            }
        }
    }

    private mutating func newID(_ kind: String) -> String {
        nextID += 1
        return "\(kind)-\(prefix)-\(nextID)"
    }
}
