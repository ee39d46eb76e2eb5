/// A request path shape: literal segments, `{model}` and `{version}` captures, `*` for any
/// one segment and a final `**` for any rest. Matched against the normalised path segment
/// by segment, literals without regard to ASCII case (as route prefixes are).
public struct PathPattern: Sendable, Equatable, CustomStringConvertible {
    public enum Segment: Sendable, Equatable {
        case literal(String)
        case model
        case version
        case any
        case rest
    }

    public let segments: [Segment]
    public let description: String
    /// Each literal segment's bytes (empty for the others), compared without building text.
    private let literals: [[UInt8]]

    /// Parses `/v2/models/{model}/versions/{version}/infer`; nil when malformed.
    public init?(_ text: String) {
        guard text.hasPrefix("/") else { return nil }
        var segments: [Segment] = []
        let parts = text.split(separator: "/", omittingEmptySubsequences: true)
        for (index, part) in parts.enumerated() {
            switch part {
            case "{model}": segments.append(.model)
            case "{version}": segments.append(.version)
            case "*": segments.append(.any)
            case "**":
                guard index == parts.count - 1 else { return nil }
                segments.append(.rest)
            default:
                if part.contains("{") || part.contains("}") || part.contains("*") { return nil }
                segments.append(.literal(part.lowercased()))
            }
        }
        self.segments = segments
        self.description = text
        self.literals = segments.map { segment in
            if case .literal(let literal) = segment { return Array(literal.utf8) }
            return []
        }
    }

    /// The captures of a match: `(model, version)`, or nil when `path` does not match.
    public func match(_ path: Substring) -> (model: Substring?, version: Substring?)? {
        var path = path
        return path.withUTF8 { bytes in
            guard let captures = match(bytes) else { return nil }
            func text(_ range: Range<Int>?) -> Substring? {
                range.map { Substring(decoding: UnsafeBufferPointer(rebasing: bytes[$0]), as: UTF8.self) }
            }
            return (text(captures.model), text(captures.version))
        }
    }

    /// The same on the path's bytes: the captures as byte ranges.
    func match(_ bytes: UnsafeBufferPointer<UInt8>) -> (model: Range<Int>?, version: Range<Int>?)? {
        var model: Range<Int>?
        var version: Range<Int>?
        var start = 0
        while start < bytes.count, bytes[start] == UInt8(ascii: "/") { start += 1 }
        for (position, segment) in segments.enumerated() {
            if case .rest = segment { return (model, version) }
            guard start < bytes.count else { return nil }
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "/") { end += 1 }
            switch segment {
            case .literal:
                let literal = literals[position]
                guard end - start == literal.count else { return nil }
                for offset in 0..<literal.count where Self.lower(bytes[start + offset]) != literal[offset] { return nil }
            case .model: model = start..<end
            case .version: version = start..<end
            case .any, .rest: break
            }
            start = end == bytes.count ? end : end + 1
        }
        return start == bytes.count ? (model, version) : nil
    }

    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
