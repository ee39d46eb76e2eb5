#if canImport(Glibc)
import Glibc
#endif
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
        switch exchange(Array(request.utf8), admin) {
        case .failure(let failure):
            return .failure(.init("cannot reach the admin API at \(admin): \(failure)"))
        case .success(let reply):
            let text = String(decoding: reply, as: UTF8.self)
            let parts = text.components(separatedBy: "\r\n\r\n")
            let status = Int(parts[0].split(separator: " ").dropFirst().first ?? "") ?? 0
            return .success((status, parts.dropFirst().joined(separator: "\r\n\r\n")))
        }
    }

    /// Writes `request` to the admin listener and reads one response (its head, then
    /// content-length bytes of body, or until the server closes).
    private static func exchange(_ request: [UInt8], _ admin: HostPort) -> Result<[UInt8], ClientStream.Failure> {
        let stream: ClientStream
        switch ClientStream.open(ServerAddress(host: admin.host, port: admin.port)) {
        case .success(let opened): stream = opened
        case .failure(let failure): return .failure(failure)
        }
        guard stream.write(request) else { return .failure(.init(String(cString: strerror(errno)))) }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while !complete(reply) {
            let n = stream.read(into: &buffer)
            if n <= 0 { break }
            reply += buffer[..<n]
        }
        return .success(reply)
    }

    /// Whether `reply` holds a whole response with a content-length.
    private static func complete(_ reply: [UInt8]) -> Bool {
        let text = String(decoding: reply, as: UTF8.self)
        guard let end = text.firstRange(of: "\r\n\r\n") else { return false }
        let head = text[..<end.lowerBound].lowercased()
        guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
              let length = Int(line.dropFirst("content-length:".count).filter { $0 != " " }) else { return false }
        return text[end.upperBound...].utf8.count >= length
    }
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        let unwanted = Set(set)
        return String(self.drop(while: { unwanted.contains($0) }).reversed().drop(while: { unwanted.contains($0) }).reversed())
    }

    func components(separatedBy separator: String) -> [String] {
        var parts: [String] = []
        var rest = self[...]
        while let range = rest.firstRange(of: separator) {
            parts.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        parts.append(String(rest))
        return parts
    }
}
