import PosternCore

/// One HTTP/1.1 answer as a blocking client reads it.
public struct HTTP1Reply: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    public var trailers: [(String, String)] = []

    public init(status: Int, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public subscript(name: String) -> String? { headers.first { $0.0 == name }?.1 }
}

/// A blocking HTTP/1.1 exchange: one request (the caller asks `Connection: close`), the
/// answer read until it is whole (Content-Length, the end of a chunked body) or the
/// server closes.
public enum HTTP1Client {
    public typealias Failure = ClientStream.Failure

    public static func exchange(_ address: ServerAddress, request: [UInt8],
                                limit: Int = 64 << 20) -> Result<HTTP1Reply, Failure> {
        let stream: ClientStream
        switch ClientStream.open(address) {
        case .success(let opened): stream = opened
        case .failure(let failure): return .failure(failure)
        }
        guard stream.write(request) else { return .failure(Failure("cannot send to \(address.host):\(address.port)")) }
        var raw: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while case .failure = parse(raw, complete: true) {
            let n = stream.read(into: &chunk)
            if n <= 0 { break }
            raw += chunk[..<n]
            guard raw.count < limit else { return .failure(Failure("the reply is over \(limit >> 20) MiB")) }
        }
        return parse(raw, complete: false)
    }

    /// The reply in `raw`; with `complete`, only once its body is whole by its framing.
    public static func parse(_ raw: [UInt8], complete: Bool = false) -> Result<HTTP1Reply, Failure> {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, raw.count - 3)).first(where: { raw[$0..<($0 + 4)].elementsEqual(separator) }) else {
            return .failure(Failure("no complete response head"))
        }
        let lines = String(decoding: raw[..<end], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.first?.split(separator: " ") ?? []
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return .failure(Failure("no status line")) }
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((line[..<colon].lowercased(), String(line[line.index(after: colon)...].trimmingSpaces())))
        }
        var reply = HTTP1Reply(status: status, headers: headers, body: Array(raw[(end + 4)...]))
        if reply["transfer-encoding"]?.lowercased().contains("chunked") == true {
            guard let decoded = dechunk(reply.body) else { return .failure(Failure("a malformed or unfinished chunked body")) }
            reply.body = decoded
        } else if let lengthText = reply["content-length"] {
            guard let length = number(lengthText, radix: 10) else { return .failure(Failure("a malformed Content-Length")) }
            guard !complete || reply.body.count >= length else { return .failure(Failure("the body is not whole yet")) }
            reply.body = Array(reply.body.prefix(length))
        } else if complete {
            return .failure(Failure("the body ends when the connection does"))
        }
        return .success(reply)
    }

    private static func dechunk(_ bytes: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var i = 0
        while true {
            guard let lineEnd = (i..<max(i, bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) else {
                return nil
            }
            let sizeText = String(decoding: bytes[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = number(sizeText.trimmingSpaces(), radix: 16) else { return nil }
            i = lineEnd + 2
            if size == 0 { return out }
            guard size <= bytes.count - i else { return nil }
            out += bytes[i..<(i + size)]
            i += size + 2
        }
    }

    /// A length as RFC 9112 writes it: digits only (no sign, no space), small enough that
    /// adding it to an index cannot overflow. Swift's `Int(_:radix:)` takes "-5" and "+5".
    static func number(_ text: some StringProtocol, radix: Int) -> Int? {
        guard (1...15).contains(text.utf8.count),
              text.utf8.allSatisfy({ $0 < 0x80 && (radix == 16 ? Character(Unicode.Scalar($0)).isHexDigit : (0x30...0x39).contains($0)) })
        else { return nil }
        return Int(text, radix: radix)
    }
}
