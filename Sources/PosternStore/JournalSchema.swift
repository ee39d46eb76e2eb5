import CSQLite
import PosternApprovals

/// The store's schema, one numbered step at a time: a store records the steps it has
/// taken, takes the ones it lacks at start-up, and refuses to run against a newer one.
enum JournalSchema {
    /// Step N is `steps[N - 1]`; steps are never edited once released, only added.
    static let steps = [
        """
        CREATE TABLE postern_journal (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            written_at INTEGER NOT NULL,
            body TEXT NOT NULL
        );
        """,
    ]

    static func migrate(_ database: OpaquePointer) throws {
        try SQLiteJournalStore.execute(database, "CREATE TABLE IF NOT EXISTS postern_schema (version INTEGER NOT NULL)")
        let select = try Statement(database, "SELECT coalesce(max(version), 0) FROM postern_schema")
        _ = try select.step()
        let current = Int(select.integer(0))
        guard current <= steps.count else {
            throw JournalStoreError("the store's schema is version \(current), newer than this Postern's \(steps.count)")
        }
        for version in (current + 1)...max(current + 1, steps.count) where version <= steps.count {
            try SQLiteJournalStore.execute(database, "BEGIN IMMEDIATE; " + steps[version - 1]
                                           + " INSERT INTO postern_schema (version) VALUES (\(version)); COMMIT;")
        }
    }
}
