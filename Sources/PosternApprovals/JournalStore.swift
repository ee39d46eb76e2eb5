import Synchronization

/// Where the journal lives: an embedded SQLite file (one pod) or PostgreSQL (replicas
/// sharing it). Called off the event loops only.
public protocol JournalStore: Sendable {
    /// `sqlite:///path` or `postgres://host/db`, without credentials: for `/readyz` and logs.
    var description: String { get }
    /// Appends the records in order; the sequence number of the last one.
    func append(_ records: [JournalRecord]) async throws -> Int64
    /// The records after `sequence`, oldest first, at most `limit` (records this version
    /// cannot read come back as nil, and are skipped with their number).
    func read(after sequence: Int64, limit: Int) async throws -> [(sequence: Int64, record: JournalRecord?)]
    /// Returns when another writer may have appended (PostgreSQL's NOTIFY), or after
    /// `timeout` (the periodic re-read every store falls back on).
    func waitForChange(timeout: Duration) async
}

/// A journal in memory, shared by the sidecars of one process: the store of the unit
/// tests, which model several replicas in one process.
public final class MemoryJournalStore: JournalStore {
    private let records = Mutex<[JournalRecord]>([])
    public let description = "memory"
    /// When set, every call fails with it: a store that went away.
    public let outage = Mutex<String?>(nil)

    public init() {}

    public func append(_ new: [JournalRecord]) async throws -> Int64 {
        if let reason = outage.withLock({ $0 }) { throw JournalStoreError(reason) }
        return records.withLock { records in
            records.append(contentsOf: new)
            return Int64(records.count)
        }
    }

    public func read(after sequence: Int64, limit: Int) async throws -> [(sequence: Int64, record: JournalRecord?)] {
        if let reason = outage.withLock({ $0 }) { throw JournalStoreError(reason) }
        return records.withLock { records in
            let start = Int(max(0, sequence))
            guard start < records.count else { return [] }
            return records[start..<min(records.count, start + limit)].enumerated().map { (Int64(start + $0.offset + 1), $0.element) }
        }
    }

    public func waitForChange(timeout: Duration) async {
        try? await Task.sleep(for: min(timeout, .milliseconds(20)))
    }
}

public struct JournalStoreError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

