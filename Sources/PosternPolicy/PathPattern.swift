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
    }

    /// The captures of a match: `(model, version)`, or nil when `path` does not match.
    public func match(_ path: Substring) -> (model: Substring?, version: Substring?)? {
        var model: Substring?
        var version: Substring?
        // Byte indices on the UTF-8 view: no Character or index validation per step.
        let bytes = path.utf8
        var start = bytes.startIndex
        while start < bytes.endIndex, bytes[start] == UInt8(ascii: "/") { start = bytes.index(after: start) }
        for segment in segments {
            if case .rest = segment { return (model, version) }
            guard start < bytes.endIndex else { return nil }
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "/")) ?? bytes.endIndex
            let part = bytes[start..<end]
            switch segment {
            case .literal(let literal):
                guard part.count == literal.utf8.count,
                      zip(part, literal.utf8).allSatisfy({ Self.lower($0) == $1 }) else { return nil }
            case .model: model = Substring(part)
            case .version: version = Substring(part)
            case .any, .rest: break
            }
            start = end == bytes.endIndex ? end : bytes.index(after: end)
        }
        return start == bytes.endIndex ? (model, version) : nil
    }

    @inline(__always)
    private static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
