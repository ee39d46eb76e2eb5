import CSQLite
import NIOPosix
import PosternApprovals

/// The journal in an embedded SQLite file: what one pod needs, no server. One connection,
/// used only from its own thread (never an event loop); WAL, so a reader never waits on a
/// writer, and a busy timeout for a second process on the same file.
public final class SQLiteJournalStore: JournalStore, @unchecked Sendable {
    public let description: String
    private let pool: NIOThreadPool
    // Touched only on the pool's single thread.
    private let database: OpaquePointer

    public init(path: String) throws {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK, let handle else {
            let reason = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw JournalStoreError("cannot open the SQLite store \(path): \(reason)")
        }
        database = handle
        description = "sqlite://" + path
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        do {
            sqlite3_busy_timeout(handle, 5000)
            try Self.execute(handle, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            try JournalSchema.migrate(handle)
        } catch {
            sqlite3_close(handle)
            try? pool.syncShutdownGracefully()
            throw error
        }
    }

    deinit {
        try? pool.syncShutdownGracefully()
        sqlite3_close(database)
    }

    public func append(_ records: [JournalRecord]) async throws -> Int64 {
        try await pool.runIfActive { [self] in
            try Self.execute(database, "BEGIN IMMEDIATE")
            do {
                let insert = try Statement(database, "INSERT INTO postern_journal (written_at, body) VALUES (strftime('%s','now'), ?1)")
                for record in records {
                    try insert.bind(1, record.json)
                    try insert.run()
                }
                try Self.execute(database, "COMMIT")
            } catch {
                try? Self.execute(database, "ROLLBACK")
                throw error
            }
            return sqlite3_last_insert_rowid(database)
        }
    }

    public func read(after sequence: Int64, limit: Int) async throws -> [(sequence: Int64, record: JournalRecord?)] {
        try await pool.runIfActive { [self] in
            let select = try Statement(database, "SELECT seq, body FROM postern_journal WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            try select.bind(1, sequence)
            try select.bind(2, Int64(limit))
            var rows: [(sequence: Int64, record: JournalRecord?)] = []
            while try select.step() {
                rows.append((select.integer(0), JournalRecord(json: select.bytes(1))))
            }
            return rows
        }
    }

    public func waitForChange(timeout: Duration) async {
        try? await Task.sleep(for: timeout)
    }

    static func execute(_ database: OpaquePointer, _ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(database, sql, nil, nil, &message) == SQLITE_OK else {
            let reason = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(database))
            sqlite3_free(message)
            throw JournalStoreError("SQLite: \(reason)")
        }
    }
}

/// One prepared statement, finalized when dropped.
final class Statement {
    private let database: OpaquePointer
    private let statement: OpaquePointer

    init(_ database: OpaquePointer, _ sql: String) throws {
        var prepared: OpaquePointer?
        guard sqlite3_prepare_v2(database, sql, -1, &prepared, nil) == SQLITE_OK, let prepared else {
            throw JournalStoreError("SQLite: \(String(cString: sqlite3_errmsg(database)))")
        }
        self.database = database
        statement = prepared
    }

    deinit { sqlite3_finalize(statement) }

    func bind(_ index: Int32, _ text: String) throws {
        try check(text.withCString { postern_sqlite3_bind_text(statement, index, $0, Int32(strlen($0))) })
    }

    func bind(_ index: Int32, _ value: Int64) throws { try check(sqlite3_bind_int64(statement, index, value)) }

    /// Runs a statement that returns no rows, ready to be bound again.
    func run() throws {
        guard sqlite3_step(statement) == SQLITE_DONE else { throw error() }
        sqlite3_reset(statement)
    }

    /// True while there is a row.
    func step() throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw error()
        }
    }

    func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

    func bytes(_ column: Int32) -> [UInt8] {
        guard let text = sqlite3_column_text(statement, column) else { return [] }
        return Array(UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(statement, column))))
    }

    private func check(_ code: Int32) throws { if code != SQLITE_OK { throw error() } }

    private func error() -> JournalStoreError { JournalStoreError("SQLite: \(String(cString: sqlite3_errmsg(database)))") }
}
