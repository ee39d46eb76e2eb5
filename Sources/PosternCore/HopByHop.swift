/// Connection-specific header fields, which never cross a proxy (RFC 9110 §7.6.1).
///
/// `te` is connection-specific too, except that `te: trailers` must reach an HTTP/2
/// upstream for gRPC; callers of `forwarded` decide that with `keepTETrailers`.
public enum HopByHop {
    /// The fields of `headers` that may cross the proxy, with `x-request-id` set to
    /// `requestID`: one pass, one allocation. For requests, `dropping` also removes what
    /// the caller proved or claimed its identity with (`CallerClaims`).
    public static func forwarded(_ headers: HeaderList, requestID: String, keepTETrailers: Bool = false,
                                 dropping claims: CallerClaims? = nil, reserve extra: Int = 1) -> HeaderList {
        let named = connectionNamed(headers)
        var out: [HeaderField] = []
        out.reserveCapacity(headers.count + extra)
        for field in headers.fields where !(field.name.utf8.count == 12 && field.name == "x-request-id") {
            if isHopByHop(field, named: named, keepTETrailers: keepTETrailers) { continue }
            if let claims, claims.isClaim(field.name) { continue }
            out.append(field)
        }
        out.append(HeaderField("x-request-id", requestID))
        return HeaderList(out)
    }

    private static func isHopByHop(_ field: HeaderField, named: Set<String>, keepTETrailers: Bool) -> Bool {
        // Most fields are told apart by their length alone, before eight string comparisons.
        let length = field.name.utf8.count
        guard length < 64, hopByHopLengths & (1 << length) != 0 else {
            return !named.isEmpty && named.contains(field.name)
        }
        switch field.name {
        case "te":
            return !(keepTETrailers && field.value.lowercased() == "trailers")
        case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "trailer",
             "http2-settings":
            return true
        case "expect":
            // Postern answers `100-continue` itself, so the upstream must not wait for it.
            return true
        default:
            return !named.isEmpty && named.contains(field.name)
        }
    }

    /// The lengths of the names `isHopByHop` knows (te, expect, upgrade and trailer,
    /// connection and keep-alive, http2-settings, proxy-connection, transfer-encoding).
    private static let hopByHopLengths: UInt64 = [2, 6, 7, 10, 14, 16, 17].reduce(0) { $0 | 1 << $1 }

    /// Fields the `connection` header names as connection-specific.
    private static func connectionNamed(_ headers: HeaderList) -> Set<String> {
        guard let connection = headers["connection"] else { return [] }
        var named: Set<String> = []
        for token in connection.split(separator: ",") {
            named.insert(token.trimmingSpaces().lowercased())
        }
        return named
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (optional whitespace, RFC 9110 §5.6.3).
    public func trimmingSpaces() -> Substring {
        var s = self
        while let first = s.first, first == " " || first == "\t" { s = s.dropFirst() }
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return s
    }
}
