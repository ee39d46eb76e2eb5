import NIOPosix
import PosternApprovals
import Synchronization

/// The journal in PostgreSQL, shared by every replica that names the same database. Appends
/// are serialized by a transaction-scoped advisory lock, so sequence order is commit order
/// (a reader never skips an entry committed late), and announced with NOTIFY; each sidecar
/// LISTENs on a connection of its own and reads again at once, or after the poll interval
/// at the latest. Connections are opened again after any failure, on their own threads.
public final class PostgresJournalStore: JournalStore, @unchecked Sendable {
    public let description: String
    private let settings: PostgresConnection.Settings
    private let pool = NIOThreadPool(numberOfThreads: 2)
    // Each used under its lock only, from the pool's threads.
    private let queries = Mutex<PostgresConnection?>(nil)
    private let listener = Mutex<PostgresConnection?>(nil)
    static let channel = "postern_journal"
    /// Any constant shared by every Postern: the lock that orders appends and migrations.
    static let lockKey = "7369746572"

    /// Connects lazily: a server that is not up yet is waited for by the first read.
    public init(host: String, port: Int, user: String, database: String, password: String?, caFile: String? = nil) {
        settings = PostgresConnection.Settings(host: host, port: port, user: user, database: database, password: password,
                                               caFile: caFile)
        description = "postgres://\(user)@\(host):\(port)/\(database)" + (caFile == nil ? "" : " (TLS)")
        pool.start()
    }

    deinit { try? pool.syncShutdownGracefully() }

    public func append(_ records: [JournalRecord]) async throws -> Int64 {
        try await pool.runIfActive { [self] in
            try withQueries { connection in
                try connection.execute("BEGIN")
                do {
                    try connection.execute("SELECT pg_advisory_xact_lock(\(Self.lockKey))")
                    var last: Int64 = 0
                    for record in records {
                        let rows = try connection.execute("INSERT INTO postern_journal (body) VALUES ($1) RETURNING seq", [record.json])
                        last = rows.first?.first.flatMap { $0.flatMap { Int64($0) } } ?? last
                    }
                    try connection.execute("SELECT pg_notify('\(Self.channel)', '')")
                    try connection.execute("COMMIT")
                    return last
                } catch {
                    try? connection.execute("ROLLBACK")
                    throw error
                }
            }
        }
    }

    public func read(after sequence: Int64, limit: Int) async throws -> [(sequence: Int64, record: JournalRecord?)] {
        try await pool.runIfActive { [self] in
            try withQueries { connection in
                try connection.execute("SELECT seq, body FROM postern_journal WHERE seq > $1 ORDER BY seq LIMIT $2",
                                       [String(sequence), String(limit)]).compactMap { row in
                    guard row.count == 2, let seq = row[0].flatMap({ Int64($0) }), let body = row[1] else { return nil }
                    return (seq, JournalRecord(json: Array(body.utf8)))
                }
            }
        }
    }

    public func waitForChange(timeout: Duration) async {
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let waited: Bool? = try? await pool.runIfActive { [self] in
            try listener.withLock { open -> Bool in
                if open == nil {
                    let connection = try PostgresConnection(settings)
                    try connection.execute("LISTEN \(Self.channel)")
                    open = connection
                    return true  // (re)connected: anything may have changed meanwhile
                }
                do {
                    return try open!.waitForNotification(milliseconds: milliseconds)
                } catch {
                    open = nil
                    throw error
                }
            }
        }
        if waited == nil { try? await Task.sleep(for: timeout) }  // the store is away: do not spin
    }

    /// Runs `body` on the query connection, opening it again after a failure.
    private func withQueries<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try queries.withLock { open in
            if open == nil {
                // Every new connection checks the schema first (cheap when it is current).
                let connection = try PostgresConnection(settings)
                try PostgresSchema.migrate(connection)
                open = connection
            }
            do {
                return try body(open!)
            } catch let error as PostgresError where error.code != nil {
                throw error  // the server answered: the connection is fine
            } catch {
                open = nil
                throw error
            }
        }
    }
}

/// The PostgreSQL schema, one numbered step at a time, taken under the shared advisory
/// lock so replicas starting together migrate once.
enum PostgresSchema {
    static let steps = [
        "CREATE TABLE postern_journal (seq bigserial PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now(), body text NOT NULL)",
    ]

    static func migrate(_ connection: PostgresConnection) throws {
        try connection.execute("BEGIN")
        do {
            try connection.execute("SELECT pg_advisory_xact_lock(\(PostgresJournalStore.lockKey))")
            try connection.execute("CREATE TABLE IF NOT EXISTS postern_schema (version integer NOT NULL)")
            let found = try connection.execute("SELECT coalesce(max(version), 0) FROM postern_schema").first?.first ?? nil
            let current = found.flatMap { Int($0) } ?? 0
            guard current <= steps.count else {
                throw JournalStoreError("the store's schema is version \(current), newer than this Postern's \(steps.count)")
            }
            if current < steps.count {
                for version in (current + 1)...steps.count {
                    try connection.execute(steps[version - 1])
                    try connection.execute("INSERT INTO postern_schema (version) VALUES ($1)", [String(version)])
                }
            }
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }
}
