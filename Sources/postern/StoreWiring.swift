import PosternApprovals
import PosternConfig
import PosternStore

#if canImport(Glibc)
import Glibc
#endif

/// Opens the store a configuration names and reads its journal before anything is
/// served: a sidecar that started without knowing the revocations could admit a revoked
/// caller, so start-up waits for the store (saying why in `/readyz`) rather than guess.
enum StoreWiring {
    /// Without `store`, an SQLite file in the state directory (`POSTERN_STATE_DIR`, else
    /// `/var/lib/postern`, which the image and chart mount) when it is a writable directory;
    /// else memory, said at start-up.
    static func defaultStore() -> StoreConfig? {
        let directory = getenv("POSTERN_STATE_DIR").map { String(cString: $0) } ?? "/var/lib/postern"
        var info = stat()
        guard stat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, access(directory, W_OK) == 0 else {
            Log.info("postern: approvals, grants and revocations are kept in memory (no store.url, and \(directory) is "
                     + "not a writable directory): they end with this process")
            return nil
        }
        return StoreConfig(location: .sqlite(path: directory + "/state.sqlite"))
    }

    static func open(_ config: PosternConfig) -> Result<SharedJournal?, JournalStoreError> {
        guard let store = config.store ?? defaultStore() else { return .success(nil) }
        let origin = "\(hostname())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        switch store.location {
        case .sqlite(let path):
            do {
                return .success(SharedJournal(store: try SQLiteJournalStore(path: path), origin: origin,
                                              pollInterval: store.pollInterval))
            } catch let error as JournalStoreError {
                return .failure(error)
            } catch {
                return .failure(JournalStoreError("\(error)"))
            }
        case .postgres(let host, let port, let user, let database):
            var password: String?
            if let file = store.passwordFile {
                guard let text = TextFile.read(file) else { return .failure(JournalStoreError("store.password_file: cannot read \(file)")) }
                password = String(text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).first ?? "")
            }
            let postgres = PostgresJournalStore(host: host, port: port, user: user, database: database, password: password,
                                                caFile: store.caFile)
            return .success(SharedJournal(store: postgres, origin: origin, pollInterval: store.pollInterval))
        }
    }

    /// Reads the journal until it has been read whole once (or a signal stops the wait).
    static func firstRead(_ journal: SharedJournal, signal: TerminationSignal, waiting: (String) -> Void) async -> Bool {
        var logged = false
        while signal.received == nil {
            await journal.step()
            if journal.isAvailable { return true }
            let reason = "waiting for the approvals store \(journal.store.description): \(journal.status.lastError ?? "?")"
            waiting(reason)
            if !logged { Log.warning("postern: \(reason)") }
            logged = true
            try? await Task.sleep(for: .seconds(1))
        }
        return false
    }

    private static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        return gethostname(&buffer, buffer.count) == 0 ? String(cString: buffer) : "postern"
    }
}
