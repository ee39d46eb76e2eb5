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

enum AdminClient {
    /// Sends the call to the admin listener the configuration names; prints the answer.
    /// Exit status 0 for a 2xx answer, 1 otherwise.
    static func run(_ call: AdminCall, admin: HostPort, tokenFile: String?) -> Int32 {
        switch send(call, admin: admin, tokenFile: tokenFile) {
        case .failure(let failure):
            Stderr.line("postern: \(failure)")
            return 1
        case .success(let reply):
            print(reply.body.trimmingCharacters(in: "\n"))
            return (200..<300).contains(reply.status) ? 0 : 1
        }
    }

    /// The answer's status and body.
    static func send(_ call: AdminCall, admin: HostPort, tokenFile: String?) -> Result<(status: Int, body: String), ClientStream.Failure> {
        let token: String
        if let tokenFile {
            guard let text = TextFile.read(tokenFile) else { return .failure(.init("cannot read the token file \(tokenFile)")) }
            token = text.trimmingCharacters(in: " \n\r\t")
        } else if let variable = getenv("POSTERN_ADMIN_TOKEN") {
            token = String(cString: variable)
        } else {
            return .failure(.init("the admin API needs your token: --token-file FILE or POSTERN_ADMIN_TOKEN"))
        }
        let body = call.body ?? ""
        let request = "\(call.method) \(call.path) HTTP/1.1\r\nHost: \(admin)\r\nAuthorization: Bearer \(token)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
        switch HTTP1Client.exchange(ServerAddress(host: admin.host, port: admin.port), request: Array(request.utf8)) {
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
