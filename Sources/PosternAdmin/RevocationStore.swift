import NIOConcurrencyHelpers
import PosternApprovals

/// The revocations this sidecar enforces. Without a shared journal they live here; with
/// one, a change is written to the store first and takes effect when read back, here and
/// on every sidecar sharing it. Every change hands the new list to `onChange`, which puts
/// it in front of every request and open stream.
public final class RevocationStore: Sendable {
    private let entries = NIOLockedValueBox<[(id: String, revocation: Revocation)]>([])
    private let journal: SharedJournal?
    private let onChange: @Sendable (RevocationList) async -> Void

    public init(journal: SharedJournal? = nil, onChange: @escaping @Sendable (RevocationList) async -> Void) {
        self.journal = journal
        self.onChange = onChange
    }

    public var all: [(id: String, revocation: Revocation)] { entries.withLockedValue { $0 } }

    public func add(_ revocation: Revocation) async throws -> String {
        let id = "rev-" + String(UInt64.random(in: 1...UInt64.max), radix: 16)
        if let journal {
            _ = try await journal.commit(.revocationAdded(id: id, revocation))
        } else {
            await apply(.revocationAdded(id: id, revocation))
        }
        return id
    }

    /// False when there is no revocation with this id.
    public func remove(_ id: String) async throws -> Bool {
        guard entries.withLockedValue({ $0.contains { $0.id == id } }) else { return false }
        if let journal {
            _ = try await journal.commit(.revocationRemoved(id))
        } else {
            await apply(.revocationRemoved(id))
        }
        return true
    }

    /// Folds a revocation entry (from the journal, or made here without one).
    public func apply(_ entry: JournalEntry) async {
        let list: RevocationList? = entries.withLockedValue { entries in
            switch entry {
            case .revocationAdded(let id, let revocation):
                guard !entries.contains(where: { $0.id == id }) else { return nil }
                entries.append((id, revocation))
            case .revocationRemoved(let id):
                guard let index = entries.firstIndex(where: { $0.id == id }) else { return nil }
                entries.remove(at: index)
            default:
                return nil
            }
            return RevocationList(entries.map(\.revocation))
        }
        if let list { await onChange(list) }
    }
}
