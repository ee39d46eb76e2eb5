/// One change to the approvals, grants and revocations that sidecars share: the shared
/// store is an ordered journal of these, and every sidecar folds the journal, in order,
/// into the same book and revocation list (its own in-memory snapshot, read per request).
public enum JournalEntry: Sendable, Equatable {
    /// A request asked for approval (the approval as created, pending).
    case asked(Approval)
    /// An approver decided; applied in journal order on every sidecar, so all agree on
    /// the outcome whichever sidecar the approvers used.
    case decided(approval: String, ApprovalMachine.Event)
    /// A grant admitted a request.
    case used(grant: String, at: Int64)
    case grantRevoked(String)
    case revocationAdded(id: String, Revocation)
    case revocationRemoved(String)

    /// Entries a sidecar applies to its own book before they are written (the data path
    /// never waits on the store), so it skips them when it reads them back.
    public var appliedFirst: Bool {
        switch self {
        case .asked, .used: true
        case .decided, .grantRevoked, .revocationAdded, .revocationRemoved: false
        }
    }
}

/// A journal entry as the store holds it: which sidecar run wrote it, and the entry.
public struct JournalRecord: Sendable, Equatable {
    public var origin: String
    public var entry: JournalEntry

    public init(origin: String, entry: JournalEntry) {
        self.origin = origin
        self.entry = entry
    }
}
