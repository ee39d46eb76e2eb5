import PosternCore

/// A minimal blocking HTTP/1.1 client for `postern audit replay`: one request with
/// `Connection: close` to a model server the operator names, the response read to its end
/// (Content-Length, chunked, or the connection's close).
enum ReplayClient {
    typealias ReplayError = ClientStream.Failure

    struct Reply {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
        var trailers: [(String, String)] = []
    }

    /// Fields that belong to one connection, not to the recorded request.
    static let connectionFields: Set<String> = ["host", "connection", "content-length", "transfer-encoding",
                                                "keep-alive", "te", "upgrade", "x-request-id"]

    static func send(_ address: ServerAddress, method: String, path: String, headers: [(String, String)],
                     body: [UInt8]) -> Result<Reply, ReplayError> {
        var text = "\(method) \(path) HTTP/1.1\r\nhost: \(address.host):\(address.port)\r\nconnection: close\r\n"
        for (name, value) in headers where !connectionFields.contains(name) && !name.hasPrefix(":") {
            text += "\(name): \(value)\r\n"
        }
        if !body.isEmpty || method == "POST" || method == "PUT" { text += "content-length: \(body.count)\r\n" }
        text += "\r\n"
        let stream: ClientStream
        switch ClientStream.open(address) {
        case .success(let opened): stream = opened
        case .failure(let failure): return .failure(failure)
        }
        guard stream.write(Array(text.utf8) + body) else { return .failure(ReplayError("send failed")) }
        var raw: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = stream.read(into: &chunk)
            if n <= 0 { break }
            raw += chunk[..<n]
            guard raw.count < 64 << 20 else { return .failure(ReplayError("the reply is over 64 MiB")) }
        }
        return parse(raw)
    }

    static func parse(_ raw: [UInt8]) -> Result<Reply, ReplayError> {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, raw.count - 3)).first(where: { raw[$0..<($0 + 4)].elementsEqual(separator) }) else {
            return .failure(ReplayError("no complete response head"))
        }
        let lines = String(decoding: raw[..<end], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.first?.split(separator: " ") ?? []
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return .failure(ReplayError("no status line")) }
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((line[..<colon].lowercased(), String(line[line.index(after: colon)...].trimmingSpaces())))
        }
        var body = Array(raw[(end + 4)...])
        if headers.contains(where: { $0.0 == "transfer-encoding" && $0.1.lowercased().contains("chunked") }) {
            guard let decoded = dechunk(body) else { return .failure(ReplayError("a malformed chunked body")) }
            body = decoded
        } else if let length = headers.first(where: { $0.0 == "content-length" }).flatMap({ Int($0.1) }) {
            body = Array(body.prefix(length))
        }
        return .success(Reply(status: status, headers: headers, body: body))
    }

    private static func dechunk(_ bytes: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var i = 0
        while true {
            guard let lineEnd = (i..<max(i, bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) else {
                return nil
            }
            let sizeText = String(decoding: bytes[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingSpaces(), radix: 16) else { return nil }
            i = lineEnd + 2
            if size == 0 { return out }
            guard i + size <= bytes.count else { return nil }
            out += bytes[i..<(i + size)]
            i += size + 2
        }
    }
}
