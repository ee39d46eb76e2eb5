import PosternCore
import Yams

/// `store`: where approvals, grants and revocations are kept, and shared between replicas.
/// - `url`: `sqlite:///var/lib/postern/state.sqlite` (one pod, no server; a relative path
///   is read from the configuration's directory) or `postgres://USER@HOST:PORT/DATABASE`
///   (replicas sharing one database).
/// - `password_file`: the PostgreSQL password, never in the URL.
/// - `ca`: TLS to PostgreSQL (the server's certificate checked against this CA file and
///   the host name).
/// - `poll_interval`: how often the journal is read again besides notifications (default 1s).
/// Without `store`: an SQLite file in the state directory (`POSTERN_STATE_DIR`, else
/// `/var/lib/postern`) when it is writable, else memory.
public struct StoreConfig: Sendable, Equatable {
    public enum Location: Sendable, Equatable {
        case sqlite(path: String)
        case postgres(host: String, port: Int, user: String, database: String)
    }

    public var location: Location
    public var passwordFile: String?
    public var caFile: String?
    public var pollInterval: Duration = .seconds(1)

    public init(location: Location, passwordFile: String? = nil, caFile: String? = nil, pollInterval: Duration = .seconds(1)) {
        self.location = location
        self.passwordFile = passwordFile
        self.caFile = caFile
        self.pollInterval = pollInterval
    }

    static func decode(_ node: Node, _ d: ConfigDecoder, base: String) -> StoreConfig? {
        guard let entries = d.mapping(node, "store", allowed: ["url", "password_file", "ca", "poll_interval"]) else { return nil }
        var location: Location?
        var passwordFile: String?, caFile: String?
        var pollInterval: Duration = .seconds(1)
        for (name, value) in entries {
            let key = "store.\(name)"
            switch name {
            case "url":
                guard let text = d.string(value, key) else { continue }
                switch Self.location(text, base: base) {
                case .success(let parsed): location = parsed
                case .failure(let problem): d.report(key, value, problem.message)
                }
            case "password_file": passwordFile = d.file(value, key, base: base)
            case "ca": caFile = d.file(value, key, base: base)
            default: pollInterval = d.interval(value, key) ?? pollInterval
            }
        }
        guard let location else {
            d.report("store.url", node, "a store needs its url (sqlite:///PATH or postgres://USER@HOST:PORT/DATABASE)")
            return nil
        }
        if case .sqlite = location, caFile != nil || passwordFile != nil {
            d.report("store", node, "ca and password_file are for a PostgreSQL store")
        }
        return StoreConfig(location: location, passwordFile: passwordFile, caFile: caFile, pollInterval: pollInterval)
    }

    struct Problem: Error { var message: String }

    static func location(_ text: String, base: String) -> Result<Location, Problem> {
        if text.hasPrefix("sqlite://") {
            let path = String(text.dropFirst("sqlite://".count))
            guard !path.isEmpty, !path.hasSuffix("/") else { return .failure(Problem(message: "sqlite:///PATH names a file")) }
            return .success(.sqlite(path: path.hasPrefix("/") ? path : base + "/" + path))
        }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") else {
            return .failure(Problem(message: "a store is sqlite:///PATH or postgres://USER@HOST:PORT/DATABASE"))
        }
        let rest = text.drop { $0 != "/" }.dropFirst(2)
        guard let at = rest.firstIndex(of: "@"), let slash = rest.firstIndex(of: "/"), at < slash else {
            return .failure(Problem(message: "postgres://USER@HOST:PORT/DATABASE"))
        }
        let user = rest[..<at]
        guard !user.contains(":") else { return .failure(Problem(message: "the password goes in password_file, not the url")) }
        guard case .success(let address) = ConfigValues.hostPort(String(rest[rest.index(after: at)..<slash]))
        else { return .failure(Problem(message: "postgres://USER@HOST:PORT/DATABASE: HOST:PORT")) }
        let database = rest[rest.index(after: slash)...]
        guard !user.isEmpty, !database.isEmpty, !database.contains("/"), !database.contains("?") else {
            return .failure(Problem(message: "postgres://USER@HOST:PORT/DATABASE"))
        }
        return .success(.postgres(host: address.host, port: address.port, user: String(user), database: String(database)))
    }
}
