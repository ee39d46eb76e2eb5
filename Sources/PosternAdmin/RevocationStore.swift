import NIOConcurrencyHelpers
import PosternApprovals

/// The revocations this sidecar enforces, kept in memory (a shared store comes with the
/// approvals issue's SQLite and PostgreSQL work). Every change hands the new list to
/// `onChange`, which puts it in front of every request and open stream.
public final class RevocationStore: Sendable {
    private let entries = NIOLockedValueBox<[(id: String, revocation: Revocation)]>([])
    private let onChange: @Sendable (RevocationList) async -> Void

    public init(onChange: @escaping @Sendable (RevocationList) async -> Void) {
        self.onChange = onChange
    }

    public var all: [(id: String, revocation: Revocation)] { entries.withLockedValue { $0 } }

    public func add(_ revocation: Revocation) async -> String {
        let id = "rev-" + String(UInt64.random(in: 1...UInt64.max), radix: 16)
        let list = entries.withLockedValue { entries in
            entries.append((id, revocation))
            return RevocationList(entries.map(\.revocation))
        }
        await onChange(list)
        return id
    }

    /// False when there is no revocation with this id.
    public func remove(_ id: String) async -> Bool {
        let list: RevocationList? = entries.withLockedValue { entries in
            guard let index = entries.firstIndex(where: { $0.id == id }) else { return nil }
            entries.remove(at: index)
            return RevocationList(entries.map(\.revocation))
        }
        guard let list else { return false }
        await onChange(list)
        return true
    }
}
