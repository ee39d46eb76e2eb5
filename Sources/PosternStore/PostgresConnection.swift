import PosternClient
import PosternCrypto

/// One blocking connection to PostgreSQL, used from one thread at a time: start-up with
/// SCRAM-SHA-256 (or trust), statements with text parameters, LISTEN and its
/// notifications. A password is never sent as it is: a server that asks for it in clear
/// or MD5 is refused.
/// Unchecked: a connection is only ever used under the lock that holds it.
final class PostgresConnection: @unchecked Sendable {
    struct Settings: Sendable {
        var host: String
        var port: Int
        var user: String
        var database: String
        var password: String?
        /// TLS (verify-full): the CA file the server's certificate must chain to.
        var caFile: String?
    }

    private let stream: ClientStream
    private var buffer: [UInt8] = []
    /// Notifications that arrived while a statement ran, for `waitForNotification`.
    private(set) var notified = false

    init(_ settings: Settings) throws(PostgresError) {
        let stream: ClientStream
        switch ClientStream.open(ServerAddress(host: settings.host, port: settings.port)) {
        case .success(let opened): stream = opened
        case .failure(let failure): throw PostgresError("PostgreSQL at \(settings.host):\(settings.port): \(failure)")
        }
        self.stream = stream
        if let caFile = settings.caFile {
            // SSLRequest: the server says 'S' and TLS begins, or 'N' and we go no further.
            try send(PostgresMessage.sslRequest)
            var answer = [UInt8](repeating: 0, count: 1)
            guard stream.readable(within: 10_000), stream.read(into: &answer) == 1 else {
                throw PostgresError("PostgreSQL did not answer the TLS request")
            }
            guard answer[0] == UInt8(ascii: "S") else { throw PostgresError("PostgreSQL refuses TLS (store.ca asks for it)") }
            do {
                try stream.startTLS(serverName: settings.host, caFile: caFile)
            } catch {
                throw PostgresError("TLS to PostgreSQL: \(error)")
            }
        }
        try send(PostgresMessage.startup(user: settings.user, database: settings.database))
        try authenticate(settings)
        try waitUntilReady()
    }

    deinit { _ = stream.write(PostgresMessage.terminate) }

    /// Runs one statement; its rows as text columns.
    @discardableResult
    func execute(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> [[String?]] {
        try send(parameters.isEmpty ? PostgresMessage.query(sql) : PostgresMessage.extended(sql, parameters))
        var rows: [[String?]] = []
        var failure: PostgresError?
        while true {
            let message = try receive()
            switch message.type {
            case UInt8(ascii: "D"): rows.append(try PostgresMessage.row(message.body))
            case UInt8(ascii: "E"): failure = PostgresMessage.error(message.body)
            case UInt8(ascii: "Z"):
                if let failure { throw failure }
                return rows
            default: continue  // RowDescription, CommandComplete, ParseComplete, BindComplete, notices
            }
        }
    }

    /// Waits up to `milliseconds` for a notification; true when one (or more) came.
    func waitForNotification(milliseconds: Int32) throws(PostgresError) -> Bool {
        if notified {
            notified = false
            return true
        }
        guard stream.readable(within: milliseconds) else { return false }
        var chunk = [UInt8](repeating: 0, count: 8192)
        let n = stream.read(into: &chunk)
        guard n > 0 else { throw PostgresError("PostgreSQL closed the connection") }
        buffer += chunk[..<n]
        while let message = try PostgresMessage.next(&buffer) {
            if message.type == UInt8(ascii: "A") { notified = true }
            if message.type == UInt8(ascii: "E") { throw PostgresMessage.error(message.body) }
        }
        defer { notified = false }
        return notified
    }

    // MARK: - Start-up

    private func authenticate(_ settings: Settings) throws(PostgresError) {
        var scram: SCRAMClient?
        while true {
            let message = try receive()
            if message.type == UInt8(ascii: "E") { throw PostgresMessage.error(message.body) }
            guard message.type == UInt8(ascii: "R"), let code = PostgresMessage.uint32(message.body) else {
                throw PostgresError("PostgreSQL sent an unexpected message during authentication")
            }
            let rest = Array(message.body.dropFirst(4))
            switch code {
            case 0:
                return
            case 10:
                guard PostgresMessage.strings(rest).contains("SCRAM-SHA-256") else {
                    throw PostgresError("PostgreSQL offers no SCRAM-SHA-256 (only \(PostgresMessage.strings(rest)))")
                }
                guard let password = settings.password else { throw PostgresError("PostgreSQL asks for a password: store.password_file") }
                let client = SCRAMClient(password: password)
                scram = client
                try send(PostgresMessage.saslInitial(mechanism: "SCRAM-SHA-256", client.clientFirst))
            case 11:
                guard var client = scram else { throw PostgresError("PostgreSQL continued a SCRAM exchange never begun") }
                do {
                    try send(PostgresMessage.saslResponse(try client.clientFinal(serverFirst: String(decoding: rest, as: UTF8.self))))
                } catch let error as PostgresError {
                    throw error
                } catch {
                    throw PostgresError("PostgreSQL's SCRAM challenge was refused: \(error)")
                }
                scram = client
            case 12:
                guard let client = scram else { throw PostgresError("PostgreSQL ended a SCRAM exchange never begun") }
                do {
                    try client.verify(serverFinal: String(decoding: rest, as: UTF8.self))
                } catch {
                    throw PostgresError("PostgreSQL's SCRAM signature does not verify: not the server that holds the password")
                }
            case 3, 5:
                throw PostgresError("PostgreSQL asks for the password in clear or as MD5: configure scram-sha-256")
            default:
                throw PostgresError("PostgreSQL asks for an authentication Postern does not speak (\(code))")
            }
        }
    }

    private func waitUntilReady() throws(PostgresError) {
        while true {
            let message = try receive()
            if message.type == UInt8(ascii: "E") { throw PostgresMessage.error(message.body) }
            if message.type == UInt8(ascii: "Z") { return }
        }
    }

    // MARK: - Bytes

    private func send(_ bytes: [UInt8]) throws(PostgresError) {
        guard stream.write(bytes) else { throw PostgresError("cannot write to PostgreSQL") }
    }

    /// The next message that is not a notification (those are noted).
    private func receive() throws(PostgresError) -> PostgresMessage.Backend {
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            while let message = try PostgresMessage.next(&buffer) {
                if message.type == UInt8(ascii: "A") {
                    notified = true
                    continue
                }
                return message
            }
            guard stream.readable(within: 10_000) else { throw PostgresError("PostgreSQL did not answer within 10 s") }
            let n = stream.read(into: &chunk)
            guard n > 0 else { throw PostgresError("PostgreSQL closed the connection") }
            buffer += chunk[..<n]
        }
    }
}
