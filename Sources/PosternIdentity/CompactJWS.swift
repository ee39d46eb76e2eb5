import PosternCrypto
import PosternJSON
/// JWS signature algorithms Postern accepts: public-key only (RFC 7518 §3, RFC 8037).
public enum JWSAlgorithm: String, Sendable, CaseIterable {
    case rs256 = "RS256", rs384 = "RS384", rs512 = "RS512"
    case ps256 = "PS256", ps384 = "PS384", ps512 = "PS512"
    case es256 = "ES256", es384 = "ES384", es512 = "ES512"
    case edDSA = "EdDSA"

    /// What SPIFFE JWT-SVIDs may use; EdDSA is for OIDC issuers that sign with it.
    public static let jwtSVID: Set<JWSAlgorithm> = Set(allCases).subtracting([.edDSA])
}

/// A token in JWS compact serialisation, `header.payload.signature`, decoded and checked
/// for structure. The signature is not verified here; `signingInput` and `signature` are
/// what a verifier needs.
public struct CompactJWS: Sendable {
    public static let maxLength = 16 << 10

    public let header: JSONValue
    public let claims: JSONValue
    public let algorithm: JWSAlgorithm
    public let keyID: String?
    /// The ASCII bytes `header.payload` that the signature covers.
    public let signingInput: [UInt8]
    public let signature: [UInt8]

    /// Decodes `token`. `none` and every HMAC algorithm are refused first, before anything
    /// else about the token is looked at: a shared secret is exactly the standing access
    /// Postern removes.
    public init<S: StringProtocol>(_ token: S, allowed: Set<JWSAlgorithm>) throws(TokenError) {
        let bytes = Array(token.utf8)
        guard bytes.count <= Self.maxLength else { throw .tooLarge(bytes.count) }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        // An empty signature is checked after alg, so an unsigned (`none`) token is
        // refused for what it is.
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw .notCompactJWS
        }
        guard let headerBytes = Base64URL.decode(String(decoding: parts[0], as: UTF8.self)),
              let header = JSONValue.parse(headerBytes), case .object = header else {
            throw .malformed("header")
        }
        guard let alg = header["alg"]?.string else { throw .malformed("header (no alg)") }
        if alg.lowercased() == "none" || alg.uppercased().hasPrefix("HS") { throw .unsignedOrSymmetric(alg) }
        guard let algorithm = JWSAlgorithm(rawValue: alg), allowed.contains(algorithm) else {
            throw .algorithmNotAllowed(alg)
        }
        if let typ = header["typ"] {
            // A media type, compared case-insensitively (RFC 7515 §4.1.9).
            guard let text = typ.string, ["jwt", "jose"].contains(text.lowercased()) else {
                throw .wrongType(typ.string ?? "non-string")
            }
        }
        guard !parts[2].isEmpty else { throw .malformed("signature (empty)") }
        if header["crit"] != nil { throw .malformed("header (crit extensions are not supported)") }
        let keyID = header["kid"]
        if let keyID, keyID.string == nil { throw .malformed("header (kid is not a string)") }
        guard let payload = Base64URL.decode(String(decoding: parts[1], as: UTF8.self)),
              let claims = JSONValue.parse(payload), case .object = claims else {
            throw .malformed("claims")
        }
        guard let signature = Base64URL.decode(String(decoding: parts[2], as: UTF8.self)) else {
            throw .malformed("signature")
        }
        self.header = header
        self.claims = claims
        self.algorithm = algorithm
        self.keyID = keyID?.string
        self.signingInput = Array(bytes[..<parts[1].endIndex])
        self.signature = signature
    }
}
