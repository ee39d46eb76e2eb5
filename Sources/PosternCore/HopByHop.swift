/// Connection-specific header fields, which never cross a proxy (RFC 9110 §7.6.1).
///
/// `te` is connection-specific too, except that `te: trailers` must reach an HTTP/2
/// upstream for gRPC; callers of `strip` decide that with `keepTETrailers`.
public enum HopByHop {
    static let names: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
        "te", "trailer", "http2-settings",
    ]

    public static func strip(_ headers: inout HeaderList, keepTETrailers: Bool = false) {
        var named: Set<String> = []
        if let connection = headers["connection"] {
            for token in connection.split(separator: ",") {
                named.insert(token.trimmingSpaces().lowercased())
            }
        }
        headers.removeAll { field in
            if keepTETrailers, field.name == "te", field.value.lowercased() == "trailers" { return false }
            return names.contains(field.name) || named.contains(field.name)
        }
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let first = s.first, first == " " || first == "\t" { s = s.dropFirst() }
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return s
    }
}
