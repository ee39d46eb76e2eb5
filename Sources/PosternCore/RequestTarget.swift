/// The one rule for request paths, applied before authentication so that every later step
/// (routing, authorization, masking, the log) and the model server see the same path.
///
/// Postern normalises as RFC 3986 §6.2.2 says and forwards the normalised path: hex digits
/// of percent-encodings in upper case, percent-encoded unreserved characters decoded
/// (`%2e` is `.`, `%41` is `A`), dot segments removed, doubled slashes merged. What servers
/// read in different ways is refused instead, because no single reading is safe:
/// an encoded `/`, `\` or `%`, a raw `\`, `;` (path parameters, which some servers strip),
/// a `..` above the root, control characters, malformed escapes and a fragment.
/// The query is kept as it is. HTTP/1.1's absolute form (`http://host/path`) is reduced to
/// its path and authority; any other form that is not a path is refused.
public enum RequestTarget {
    public struct Normalized: Equatable, Sendable {
        /// The normalised path, with the query as sent.
        public var path: String
        /// The authority of an absolute-form target, which replaces `Host` (RFC 9112 §3.2.2).
        public var authority: String?

        public init(path: String, authority: String? = nil) {
            self.path = path
            self.authority = authority
        }
    }

    /// The common case, checked without allocating: a path with nothing to decode, merge or
    /// remove, and no fragment.
    static func isAlreadyNormal(_ target: String) -> Bool {
        target.withUTF8Bytes(isAlreadyNormal)
    }

    private static func isAlreadyNormal(_ target: UnsafeBufferPointer<UInt8>) -> Bool {
        guard target.first == UInt8(ascii: "/") else { return false }
        var previous: UInt8 = 0
        var inQuery = false
        for byte in target {
            if byte == UInt8(ascii: "#") { return false }
            if inQuery { continue }
            switch byte {
            case UInt8(ascii: "?"): inQuery = true
            case UInt8(ascii: "%"), UInt8(ascii: "\\"), UInt8(ascii: ";"): return false
            case UInt8(ascii: "/") where previous == UInt8(ascii: "/"): return false
            case UInt8(ascii: ".") where previous == UInt8(ascii: "/"): return false
            case 0..<0x20, 0x7f: return false
            default: break
            }
            previous = byte
        }
        return true
    }

    /// Works on the bytes throughout: as Characters, a combining mark after `/` or `?` would
    /// hide it (a query read as path, a path refused as not starting with `/`).
    public static func normalize(_ target: String, allowAbsoluteForm: Bool) -> Result<Normalized, CallerError> {
        if isAlreadyNormal(target) { return .success(Normalized(path: target)) }
        let slash = UInt8(ascii: "/"), question = UInt8(ascii: "?")
        var bytes = Array(target.utf8)[...]
        var authority: String?
        if bytes.first != slash {
            guard allowAbsoluteForm, let rest = absoluteFormRest(bytes) else {
                return .failure(.badRequest(target == "*" ? "the asterisk form (*) is not served"
                                                          : "the request target must be a path starting with /"))
            }
            let end = rest.firstIndex { $0 == slash || $0 == question } ?? rest.endIndex
            authority = String(decoding: rest[..<end], as: UTF8.self)
            bytes = rest[end...]
            if bytes.first != slash { bytes = ([slash] + bytes)[...] }
        }
        if bytes.contains(UInt8(ascii: "#")) {
            return .failure(.badRequest("a request target carries no fragment (#)"))
        }
        let queryStart = bytes.firstIndex(of: question) ?? bytes.endIndex
        switch normalizePath(bytes[..<queryStart]) {
        case .failure(let error):
            return .failure(error)
        case .success(let path):
            return .success(Normalized(path: path + String(decoding: bytes[queryStart...], as: UTF8.self),
                                       authority: authority))
        }
    }

    /// What follows `http://` or `https://` (any case), or nil.
    private static func absoluteFormRest(_ target: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        for scheme in ["http://", "https://"] where target.count > scheme.utf8.count
            && zip(target, scheme.utf8).allSatisfy({ asciiLower($0) == $1 }) {
            return target.dropFirst(scheme.utf8.count)
        }
        return nil
    }

    private static func refused(_ why: String) -> Result<String, CallerError> {
        .failure(.badRequest("path refused: \(why)"))
    }

    /// Decodes and checks byte by byte into segments, then removes dot segments.
    static func normalizePath(_ path: ArraySlice<UInt8>) -> Result<String, CallerError> {
        var segments: [[UInt8]] = []
        var segment: [UInt8] = []
        let bytes = Array(path.dropFirst())  // the leading "/"
        var index = 0
        var endsWithSlash = false
        while index < bytes.count {
            let byte = bytes[index]
            endsWithSlash = false
            switch byte {
            case UInt8(ascii: "/"):
                // Doubled slashes are one: empty segments are never kept.
                if !segment.isEmpty { segments.append(segment) }
                segment = []
                endsWithSlash = true
                index += 1
                continue
            case UInt8(ascii: "\\"):
                return refused("a backslash is a separator to some servers")
            case UInt8(ascii: ";"):
                return refused("';' path parameters are stripped by some servers")
            case UInt8(ascii: "%"):
                guard index + 2 < bytes.count,
                      let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                    return refused("a malformed percent-encoding")
                }
                let decoded = high << 4 | low
                if isUnreserved(decoded) {
                    segment.append(decoded)
                } else if decoded == UInt8(ascii: "/") || decoded == UInt8(ascii: "\\") || decoded == UInt8(ascii: "%") {
                    return refused("an encoded '/', '\\' or '%' is read differently by different servers")
                } else if decoded < 0x20 || decoded == 0x7f {
                    return refused("an encoded control character")
                } else {
                    segment += [UInt8(ascii: "%"), hexDigit(high), hexDigit(low)]
                }
                index += 3
                continue
            default:
                if byte < 0x20 || byte == 0x7f { return refused("a control character") }
                segment.append(byte)
            }
            index += 1
        }
        if !segment.isEmpty { segments.append(segment) }
        return removeDotSegments(segments, endsWithSlash: endsWithSlash)
    }

    /// RFC 3986 §5.2.4 on whole segments; a `..` that would climb above the root is refused.
    private static func removeDotSegments(_ segments: [[UInt8]], endsWithSlash: Bool) -> Result<String, CallerError> {
        let dot: [UInt8] = [UInt8(ascii: ".")]
        let dotDot: [UInt8] = [UInt8(ascii: "."), UInt8(ascii: ".")]
        var kept: [[UInt8]] = []
        var trailingSlash = endsWithSlash
        for (position, segment) in segments.enumerated() {
            let last = position == segments.count - 1
            if segment == dot {
                if last { trailingSlash = true }
            } else if segment == dotDot {
                guard !kept.isEmpty else { return refused("'..' climbs above the root") }
                kept.removeLast()
                if last { trailingSlash = true }
            } else {
                kept.append(segment)
            }
        }
        var out: [UInt8] = [UInt8(ascii: "/")]
        for (position, segment) in kept.enumerated() {
            if position > 0 { out.append(UInt8(ascii: "/")) }
            out += segment
        }
        if trailingSlash, !kept.isEmpty { out.append(UInt8(ascii: "/")) }
        return .success(String(decoding: out, as: UTF8.self))
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
             UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10
    }
}

extension RequestTarget {
    /// Whether `path` lies under `prefix` by whole segments and without regard to ASCII case
    /// (a server that ignores case must not reach a route by another spelling): `/v2` covers
    /// `/v2` and `/v2/…`, not `/v2x`; `/v2/` covers `GET /v2` too; `/` covers everything.
    public static func isPath(_ path: Substring, under prefix: String) -> Bool {
        path.withUTF8Bytes { candidate in prefix.withUTF8Bytes { isPath(candidate, under: $0) } }
    }

    private static func isPath(_ candidate: UnsafeBufferPointer<UInt8>, under prefix: UnsafeBufferPointer<UInt8>) -> Bool {
        var base = prefix[...]
        while base.last == UInt8(ascii: "/") { base = base.dropLast() }
        guard candidate.count >= base.count else { return false }
        for (a, b) in zip(candidate, base) where asciiLower(a) != asciiLower(b) { return false }
        if candidate.count == base.count { return true }
        return candidate[base.count] == UInt8(ascii: "/")
    }

    @inline(__always)
    private static func asciiLower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
