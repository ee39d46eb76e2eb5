/// Why a string is not a SPIFFE ID. The messages name the rule that failed, so a
/// rejected caller (or an operator reading the log) knows what to fix.
public enum SPIFFEIDError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case tooLong(Int)
    case wrongScheme
    case missingTrustDomain
    case trustDomainTooLong(Int)
    case badTrustDomainCharacter(Character)
    case emptySegment
    case dotSegment
    case trailingSlash
    case badPathCharacter(Character)

    public var description: String {
        switch self {
        case .empty: "a SPIFFE ID cannot be empty"
        case .tooLong(let n): "a SPIFFE ID is at most \(SPIFFEID.maxLength) bytes, this one is \(n)"
        case .wrongScheme: "a SPIFFE ID starts with spiffe://"
        case .missingTrustDomain: "the trust domain is missing"
        case .trustDomainTooLong(let n): "a trust domain is at most \(TrustDomain.maxLength) bytes, this one is \(n)"
        case .badTrustDomainCharacter(let c):
            "trust domain characters are lowercase letters, digits, '.', '-' and '_'; found \(Self.show(c))"
        case .emptySegment: "the path has an empty segment"
        case .dotSegment: "the path has a '.' or '..' segment"
        case .trailingSlash: "the path ends with '/'"
        case .badPathCharacter(let c):
            "path characters are letters, digits, '.', '-' and '_'; found \(Self.show(c))"
        }
    }

    private static func show(_ character: Character) -> String {
        let scalar = character.unicodeScalars.first!.value
        return (0x21...0x7E).contains(scalar) ? "'\(character)'" : "byte 0x" + String(scalar, radix: 16)
    }
}
