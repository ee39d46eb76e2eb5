/// The protocol-neutral start of a request, as every step after the codec sees it.
public struct RequestHead: Sendable, Equatable {
    public var method: String
    /// `http` or `https` as the caller used it.
    public var scheme: String
    /// `:authority` in HTTP/2, `Host` in HTTP/1.1.
    public var authority: String
    /// Path and query, as sent (origin form).
    public var path: String
    public var headers: HeaderList

    public init(method: String, scheme: String = "http", authority: String, path: String,
                headers: HeaderList = HeaderList()) {
        self.method = method
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.headers = headers
    }

    /// gRPC is recognised by its content type, whatever the path.
    public var isGRPC: Bool {
        guard let type = headers["content-type"] else { return false }
        return type.hasPrefix("application/grpc")
    }

    /// The path without its query string.
    public var pathWithoutQuery: Substring {
        // On the bytes: `?` is ASCII, and a Character search is several times slower.
        guard let end = path.withUTF8Bytes({ $0.firstIndex(of: UInt8(ascii: "?")) }) else { return path[...] }
        return path[..<path.utf8.index(path.utf8.startIndex, offsetBy: end)]
    }
}

/// The protocol-neutral start of a response.
public struct ResponseHead: Sendable, Equatable {
    public var status: Int
    public var headers: HeaderList

    public init(status: Int, headers: HeaderList = HeaderList()) {
        self.status = status
        self.headers = headers
    }
}
