import PosternJSON
import PosternCrypto

/// Verification keys from a JWKS document (RFC 7517 §5): an OIDC issuer's JWKS, or a
/// SPIFFE JWT bundle, whose `x509-svid` entries are skipped. Entries for encryption, or of
/// a key type Postern does not verify with, are skipped; a malformed or private entry
/// makes the whole document invalid, so a broken bundle is noticed rather than half-used.
public struct KeySet: Sendable {
    public private(set) var keys: [(keyID: String?, key: PublicKey)] = []

    public init(jwks bytes: [UInt8]) throws(JWKError) {
        guard let document = JSONValue.parse(bytes), case .array(let entries)? = document["keys"] else {
            throw .malformed("not a JWKS document (no \"keys\" array)")
        }
        for entry in entries {
            let use = entry["use"]?.string
            guard use == nil || use == "sig" || use == "jwt-svid" else { continue }
            let key: PublicKey
            do {
                key = try JWK.publicKey(entry)
            } catch .unsupported {
                continue
            }
            if let kid = entry["kid"], kid.string == nil { throw .malformed("kid is not a string") }
            keys.append((entry["kid"]?.string, key))
        }
    }

    /// Keys that may have signed a token carrying `keyID`: the one with that id, or, for a
    /// token without one, every key (OIDC issuers may omit kid).
    public func candidates(for keyID: String?) -> [PublicKey] {
        guard let keyID else { return keys.map(\.key) }
        return keys.filter { $0.keyID == keyID }.map(\.key)
    }
}
