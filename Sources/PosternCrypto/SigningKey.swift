import COpenSSL

/// An Ed25519 private key held by OpenSSL, for signing audit checkpoints.
/// Signing does not mutate the key, so one instance may be shared across threads.
public final class SigningKey: @unchecked Sendable {
    private let key: OpaquePointer
    /// The 32 raw bytes of the public half (RFC 8032).
    public let publicKey: [UInt8]

    private init(_ key: OpaquePointer, publicKey: [UInt8]) {
        self.key = key
        self.publicKey = publicKey
    }

    deinit { EVP_PKEY_free(key) }

    /// A key from PEM text: PKCS#8 `PRIVATE KEY`, as `openssl genpkey -algorithm ed25519`
    /// writes it. Any other algorithm is refused.
    public static func ed25519(pem: [UInt8]) throws(CryptoError) -> SigningKey {
        defer { ERR_clear_error() }
        let parsed: OpaquePointer? = pem.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        guard let parsed else { throw .invalidKey("no PEM private key") }
        guard EVP_PKEY_get_base_id(parsed) == EVP_PKEY_ED25519 else {
            EVP_PKEY_free(parsed)
            throw .invalidKey("the audit key must be Ed25519")
        }
        return try wrap(parsed)
    }

    /// A key from its 32-byte seed (tests and key generation).
    public static func ed25519(seed: [UInt8]) throws(CryptoError) -> SigningKey {
        defer { ERR_clear_error() }
        guard seed.count == 32,
              let key = seed.withUnsafeBufferPointer({ EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, $0.baseAddress, 32) })
        else { throw .invalidKey("Ed25519 seed") }
        return try wrap(key)
    }

    private static func wrap(_ key: OpaquePointer) throws(CryptoError) -> SigningKey {
        var raw = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_public_key(key, &raw, &length) == 1, length == 32 else {
            EVP_PKEY_free(key)
            throw .openSSL("EVP_PKEY_get_raw_public_key")
        }
        return SigningKey(key, publicKey: raw)
    }

    /// The 64-byte Ed25519 signature of `message` (pure Ed25519, no pre-hash).
    public func sign(_ message: [UInt8]) throws(CryptoError) -> [UInt8] {
        defer { ERR_clear_error() }
        guard let context = EVP_MD_CTX_new() else { throw .openSSL("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context) }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        let ok = EVP_DigestSignInit(context, nil, nil, nil, key) == 1
            && message.withUnsafeBufferPointer { m in
                EVP_DigestSign(context, &signature, &length, m.baseAddress, m.count) == 1
            }
        guard ok, length == 64 else { throw .openSSL("EVP_DigestSign") }
        return signature
    }
}
