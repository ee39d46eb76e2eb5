#if canImport(Glibc)
import Glibc
#endif
import PosternClient
import PosternConfig
import PosternCore

/// One call of `postern approvals|grants|revoke|revocations`: a request to the running
/// sidecar's admin API, with the operator's own short-lived token.
struct AdminCall: Equatable {
    var method: String
    var path: String
    var body: String?
}

/// How an operator proves itself to the admin API: a short-lived token (a file, or
/// POSTERN_ADMIN_TOKEN), or over TLS (`admin.tls`, `--ca`) its own certificate and key.
struct AdminCredentials: Equatable {
    var tokenFile: String?
    var caFile: String?
    var certificateFile: String?
    var keyFile: String?

    /// Reads `--token-file`, `--ca`, `--cert`, `--key`; false for another flag.
    mutating func read(_ flag: String, _ value: () throws -> String) rethrows -> Bool {
        switch flag {
        case "--token-file": tokenFile = try value()
        case "--ca": caFile = try value()
        case "--cert": certificateFile = try value()
        case "--key": keyFile = try value()
        default: return false
        }
        return true
    }
}

enum AdminClient {
    /// Sends the call to the admin listener the configuration names; prints the answer.
    /// Exit status 0 for a 2xx answer, 1 otherwise.
    static func run(_ call: AdminCall, admin: HostPort, credentials: AdminCredentials) -> Int32 {
        switch send(call, admin: admin, credentials: credentials) {
        case .failure(let failure):
            Stderr.line("postern: \(failure)")
            return 1
        case .success(let reply):
            print(reply.body.trimmingCharacters(in: "\n"))
            return (200..<300).contains(reply.status) ? 0 : 1
        }
    }

    /// The answer's status and body.
    static func send(_ call: AdminCall, admin: HostPort, credentials: AdminCredentials)
        -> Result<(status: Int, body: String), ClientStream.Failure> {
        var identity: (certificateFile: String, keyFile: String)?
        if let certificate = credentials.certificateFile {
            guard let key = credentials.keyFile, credentials.caFile != nil else {
                return .failure(.init("--cert needs --key and --ca (the admin listener's CA)"))
            }
            identity = (certificate, key)
        }
        var authorization = ""
        if let tokenFile = credentials.tokenFile {
            guard let text = TextFile.read(tokenFile) else { return .failure(.init("cannot read the token file \(tokenFile)")) }
            authorization = "Authorization: Bearer \(text.trimmingCharacters(in: " \n\r\t"))\r\n"
        } else if let variable = getenv("POSTERN_ADMIN_TOKEN") {
            authorization = "Authorization: Bearer \(String(cString: variable))\r\n"
        } else if identity == nil {
            return .failure(.init("the admin API needs your token (--token-file FILE or POSTERN_ADMIN_TOKEN) or, over TLS, "
                                  + "your certificate (--cert, --key, --ca)"))
        }
        let address = ServerAddress(host: admin.host, port: admin.port, caFile: credentials.caFile, identity: identity)
        let body = call.body ?? ""
        let request = "\(call.method) \(call.path) HTTP/1.1\r\nHost: \(admin)\r\n\(authorization)"
            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
        switch HTTP1Client.exchange(address, request: Array(request.utf8)) {
        case .failure(let failure):
            return .failure(.init("cannot reach the admin API at \(admin): \(failure)"))
        case .success(let reply):
            return .success((reply.status, String(decoding: reply.body, as: UTF8.self)))
        }
    }
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        let unwanted = Set(set)
        return String(self.drop(while: { unwanted.contains($0) }).reversed().drop(while: { unwanted.contains($0) }).reversed())
    }
}
