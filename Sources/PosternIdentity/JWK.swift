import PosternJSON
import PosternCrypto

/// Verification keys from JSON Web Keys (RFC 7517, 7518 §6, 8037): RSA, EC P-256/384/521,
/// and Ed25519. A JWK that carries private members is refused: a verification bundle must
/// never hold a secret.
public enum JWK {
    public static func publicKey(_ jwk: JSONValue) throws(JWKError) -> PublicKey {
        guard case .object(let members) = jwk else { throw .malformed("not an object") }
        for secret in ["d", "p", "q", "dp", "dq", "qi", "k"] where members[secret] != nil {
            throw .privateMaterial(secret)
        }
        func bytes(_ name: String) throws(JWKError) -> [UInt8] {
            guard let text = members[name]?.string, let value = Base64URL.decode(text) else {
                throw .malformed("member '\(name)' is missing or not base64url")
            }
            return value
        }
        do {
            switch members["kty"]?.string {
            case "RSA":
                return try PublicKey.rsa(modulus: bytes("n"), exponent: bytes("e"))
            case "EC":
                let curves: [String: PublicKey.Curve] = ["P-256": .p256, "P-384": .p384, "P-521": .p521]
                guard let name = members["crv"]?.string, let curve = curves[name] else {
                    throw JWKError.unsupported("EC curve \(members["crv"]?.string ?? "(none)")")
                }
                return try PublicKey.ec(curve: curve, x: bytes("x"), y: bytes("y"))
            case "OKP":
                guard members["crv"]?.string == "Ed25519" else {
                    throw JWKError.unsupported("OKP curve \(members["crv"]?.string ?? "(none)")")
                }
                return try PublicKey.ed25519(bytes("x"))
            case let kty:
                throw JWKError.unsupported("key type \(kty ?? "(none)")")
            }
        } catch let error as JWKError {
            throw error
        } catch let error as CryptoError {
            throw .invalid(error.description)
        } catch {
            throw .invalid("\(error)")
        }
    }
}

public enum JWKError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    case unsupported(String)
    case privateMaterial(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .malformed(let why): "JWK is malformed: \(why)"
        case .unsupported(let what): "JWK uses an unsupported \(what)"
        case .privateMaterial(let member): "JWK carries private key material ('\(member)'); publish public keys only"
        case .invalid(let why): "JWK is not a usable key: \(why)"
        }
    }
}

extension JWSAlgorithm {
    /// The signature scheme the algorithm names.
    public var scheme: SignatureScheme {
        switch self {
        case .rs256: .rsaPKCS1(.sha256)
        case .rs384: .rsaPKCS1(.sha384)
        case .rs512: .rsaPKCS1(.sha512)
        case .ps256: .rsaPSS(.sha256)
        case .ps384: .rsaPSS(.sha384)
        case .ps512: .rsaPSS(.sha512)
        case .es256: .ecdsa(.sha256, .p256)
        case .es384: .ecdsa(.sha384, .p384)
        case .es512: .ecdsa(.sha512, .p521)
        case .edDSA: .ed25519
        }
    }
}

extension CompactJWS {
    /// Whether `key` signed this token with the algorithm its header names. The key's type
    /// must fit the algorithm: an RSA key never verifies an ES256 token, and so on.
    public func isSigned(by key: PublicKey) -> Bool {
        key.verify(signature, of: signingInput, scheme: algorithm.scheme)
    }

    /// The checks every validator makes, in the order that trusts nothing unverified: a
    /// key with the token's id, a signature by one of them, then the audience.
    func verify(keys candidates: [PublicKey], keyID: String, audience: String) throws(TokenError) {
        guard !candidates.isEmpty else { throw .unknownKey(keyID) }
        guard candidates.contains(where: isSigned(by:)) else { throw .badSignature }
        guard let audiences = claims.audiences, audiences.contains(audience) else {
            throw .wrongAudience(expected: audience)
        }
    }
}
