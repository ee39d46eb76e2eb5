/// A SPIFFE ID, `spiffe://trust-domain/path`, validated exactly as the SPIFFE ID standard
/// says. Two IDs are equal only if their text is equal: the character rules exist so that
/// no normalisation (case folding, percent-decoding, dot segments) is ever needed.
public struct SPIFFEID: Hashable, Sendable, CustomStringConvertible {
    public let trustDomain: TrustDomain
    /// Empty (the ID of the trust domain itself) or `/segment/segment…`.
    public let path: String

    /// SPIFFE implementations must handle IDs up to this length; longer ones are refused.
    public static let maxLength = 2048
    static let scheme = Array("spiffe://".utf8)

    public var description: String { "spiffe://\(trustDomain.name)\(path)" }

    /// A workload's ID has a path; `spiffe://example.org` alone names the trust domain.
    public var isWorkload: Bool { !path.isEmpty }

    public var segments: [Substring] { path.split(separator: "/") }

    public init(_ text: String) throws(SPIFFEIDError) {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { throw .empty }
        if bytes.count > Self.maxLength { throw .tooLong(bytes.count) }
        guard bytes.starts(with: Self.scheme) else { throw .wrongScheme }
        let rest = bytes[Self.scheme.count...]
        let slash = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
        trustDomain = try TrustDomain(validating: rest[..<slash])
        try Self.validatePath(rest[slash...])
        path = String(decoding: rest[slash...], as: UTF8.self)
    }

    /// Checks a path: empty, or segments of `[A-Za-z0-9._-]`, none empty, `.` or `..`,
    /// and no trailing slash.
    static func validatePath(_ path: ArraySlice<UInt8>) throws(SPIFFEIDError) {
        guard !path.isEmpty else { return }
        var segmentStart = path.startIndex + 1  // path starts with "/"
        for index in path.indices.dropFirst() {
            let byte = path[index]
            if byte == UInt8(ascii: "/") {
                try checkSegment(path[segmentStart..<index])
                segmentStart = index + 1
            } else if !isPathCharacter(byte) {
                throw .badPathCharacter(Character(Unicode.Scalar(byte)))
            }
        }
        if segmentStart == path.endIndex { throw .trailingSlash }
        try checkSegment(path[segmentStart..<path.endIndex])
    }

    private static func checkSegment(_ segment: ArraySlice<UInt8>) throws(SPIFFEIDError) {
        if segment.isEmpty { throw .emptySegment }
        if segment.elementsEqual([UInt8(ascii: ".")]) || segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
            throw .dotSegment
        }
    }

    static func isPathCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }
}

/// A trust domain name: the authority part of a SPIFFE ID.
public struct TrustDomain: Hashable, Sendable, CustomStringConvertible {
    public let name: String

    public static let maxLength = 255

    public var description: String { name }

    /// Parses a bare trust domain name (`example.org`).
    public init(_ name: String) throws(SPIFFEIDError) {
        try self.init(validating: ArraySlice(name.utf8))
    }

    init(validating bytes: ArraySlice<UInt8>) throws(SPIFFEIDError) {
        if bytes.isEmpty { throw .missingTrustDomain }
        if bytes.count > Self.maxLength { throw .trustDomainTooLong(bytes.count) }
        for byte in bytes where !Self.isCharacter(byte) {
            throw .badTrustDomainCharacter(Character(Unicode.Scalar(byte)))
        }
        name = String(decoding: bytes, as: UTF8.self)
    }

    /// Lowercase letters, digits, `.`, `-` and `_` only: no uppercase (no case folding),
    /// no `:` (no port), no `@` (no userinfo), no `%` (no encoding).
    static func isCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }
}
