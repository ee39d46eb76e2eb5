import PosternCrypto
import PosternJSON

/// One exchange as it went by, for `postern audit show`: the request (head without
/// credentials, body masked by the route's policy) and the response as the caller got it
/// (masked), with the time of every chunk (every message, for gRPC), under a size cap. Its SHA-256 goes into the
/// exchange's record, a leaf of the signed tree, so an altered recording is caught.
public struct Recording: Sendable {
    public struct Chunk: Sendable {
        /// Milliseconds since the exchange began.
        public var at: Int
        public var bytes: [UInt8]
    }

    public let startedAt: Double
    public let cap: Int
    /// gRPC bodies are kept one length-prefixed message per chunk, timed when the message
    /// was whole, whatever DATA frames carried it.
    public let byMessage: Bool
    public private(set) var method = ""
    /// The request target, query included (see `recordedTarget`).
    public private(set) var path = ""
    public private(set) var requestHeaders: [(String, String)] = []
    public private(set) var requestChunks: [Chunk] = []
    public private(set) var status = 0
    public private(set) var responseHeaders: [(String, String)] = []
    public private(set) var responseChunks: [Chunk] = []
    public private(set) var responseTrailers: [(String, String)] = []
    /// Bytes of a message not yet whole, per side (gRPC only).
    private var requestPartial: [UInt8] = []
    private var responsePartial: [UInt8] = []
    /// Bytes kept so far; past `cap` chunks keep their time and size but not their bytes.
    public private(set) var kept = 0
    public private(set) var truncated = false
    /// Sets the target once the route's masking policy is known.
    public mutating func target(_ path: String) { self.path = path }

    /// Why the request body is not in the recording, when it is not.
    public var requestBodyOmitted: String?

    public init(startedAt: Double, cap: Int, byMessage: Bool = false) {
        self.startedAt = startedAt
        self.cap = cap
        self.byMessage = byMessage
    }

    /// Request fields that carry credentials or cookies are never recorded.
    static let withheld: Set<String> = ["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
                                        "api-key"]

    /// Query parameters that carry credentials, by name: their values are never recorded.
    static let credentialParameters: Set<String> = [
        "api_key", "apikey", "api-key", "key", "token", "access_token", "id_token", "refresh_token", "auth",
        "authorization", "password", "passwd", "secret", "client_secret", "sig", "signature", "x-amz-signature",
        "x-amz-security-token", "x-goog-signature", "code",
    ]

    /// The request target as recorded: credential parameters withheld, every other value
    /// passed through `mask` (the route's masking policy), so a replay sends the same query.
    public static func recordedTarget(_ target: String, mask: (String) -> String = { $0 }) -> String {
        guard let question = target.firstIndex(of: "?") else { return target }
        let query = target[target.index(after: question)...]
        let parameters = query.split(separator: "&", omittingEmptySubsequences: false).map { parameter -> String in
            guard let equals = parameter.firstIndex(of: "=") else { return String(parameter) }
            let name = parameter[..<equals]
            let value = String(parameter[parameter.index(after: equals)...])
            return name + "=" + (credentialParameters.contains(name.lowercased()) ? "[withheld]" : mask(value))
        }
        return target[..<question] + "?" + parameters.joined(separator: "&")
    }

    public mutating func request(method: String, path: String, headers: [(String, String)]) {
        self.method = method
        self.path = path
        requestHeaders = headers.filter { !Self.withheld.contains($0.0) }
    }

    /// A request field the masked body changes (a length that framed what masking rewrote).
    public mutating func replaceRequestHeader(_ name: String, _ value: String) {
        guard let index = requestHeaders.firstIndex(where: { $0.0 == name }) else { return }
        requestHeaders[index].1 = value
    }

    public mutating func response(status: Int, headers: [(String, String)]) {
        self.status = status
        responseHeaders = headers.filter { !Self.withheld.contains($0.0) }
    }

    public mutating func requestBody(_ bytes: some Collection<UInt8>, at now: Double) {
        guard byMessage else { return requestChunks.append(chunk(bytes, at: now)) }
        for message in Self.messages(bytes, partial: &requestPartial) { requestChunks.append(chunk(message, at: now)) }
    }

    public mutating func responseBody(_ bytes: some Collection<UInt8>, at now: Double) {
        guard byMessage else { return responseChunks.append(chunk(bytes, at: now)) }
        for message in Self.messages(bytes, partial: &responsePartial) { responseChunks.append(chunk(message, at: now)) }
    }

    public mutating func trailers(_ fields: [(String, String)]) {
        responseTrailers = fields.filter { !Self.withheld.contains($0.0) }
    }

    /// The messages `bytes` completes, keeping the rest of a message in `partial`.
    private static func messages(_ bytes: some Collection<UInt8>, partial: inout [UInt8]) -> [[UInt8]] {
        partial.append(contentsOf: bytes)
        var complete: [[UInt8]] = []
        var start = 0
        while partial.count - start >= 5 {
            let length = partial[(start + 1)..<(start + 5)].reduce(0) { $0 << 8 | Int($1) }
            guard partial.count - start >= 5 + length else { break }
            complete.append(Array(partial[start..<(start + 5 + length)]))
            start += 5 + length
        }
        if start > 0 { partial.removeFirst(start) }
        return complete
    }

    /// A message cut off when the exchange ended is kept as it is, in a chunk of its own.
    private mutating func flushPartials(at now: Double) {
        if !requestPartial.isEmpty { requestChunks.append(chunk(requestPartial, at: now)) }
        if !responsePartial.isEmpty { responseChunks.append(chunk(responsePartial, at: now)) }
        requestPartial = []
        responsePartial = []
    }

    public mutating func finish(at now: Double) { flushPartials(at: now) }

    /// The request body whole (for masking it before it is recorded).
    public var requestBody: [UInt8] { requestChunks.flatMap(\.bytes) }

    /// Replaces the request body with its masked form, keeping the chunks' times.
    public mutating func maskRequestBody(_ masked: [UInt8]) {
        guard let first = requestChunks.first else { return }
        if byMessage {
            // Masking keeps the messages (their lengths change): each keeps its own time.
            var rest: [UInt8] = []
            let messages = Self.messages(masked, partial: &rest)
            if rest.isEmpty, messages.count == requestChunks.count {
                requestChunks = zip(requestChunks, messages).map { Chunk(at: $0.0.at, bytes: $0.1) }
                return
            }
        }
        requestChunks = [Chunk(at: first.at, bytes: masked)] + requestChunks.dropFirst().map { Chunk(at: $0.at, bytes: []) }
    }

    private mutating func chunk(_ bytes: some Collection<UInt8>, at now: Double) -> Chunk {
        let at = Int(((now - startedAt) * 1000).rounded())
        guard kept + bytes.count <= cap else {
            truncated = true
            return Chunk(at: at, bytes: [])
        }
        kept += bytes.count
        return Chunk(at: at, bytes: Array(bytes))
    }

    /// The recording's line: a JSON object, bodies in base64 (they need not be text).
    public func line(requestID: String) -> [UInt8] {
        func headers(_ list: [(String, String)]) -> JSONValue { .array(list.map { .array([.string($0.0), .string($0.1)]) }) }
        func chunks(_ list: [Chunk]) -> JSONValue {
            .array(list.map { .array([.number(Double($0.at)), .string(Base64URL.encodeStandard($0.bytes))]) })
        }
        var request: [String: JSONValue] = ["method": .string(method), "path": .string(path),
                                            "headers": headers(requestHeaders), "chunks": chunks(requestChunks)]
        if let requestBodyOmitted { request["body_omitted"] = .string(requestBodyOmitted) }
        let object: JSONValue = .object([
            "request_id": .string(requestID), "started": .number((startedAt * 1000).rounded(.down) / 1000),
            "truncated": .bool(truncated), "request": .object(request),
            "response": .object(["status": .number(Double(status)), "headers": headers(responseHeaders),
                                 "chunks": chunks(responseChunks), "trailers": headers(responseTrailers)]),
        ])
        return Array(object.text.utf8)
    }

    public static func digest(_ line: [UInt8]) -> String { SHA256.hex(line) }
}
