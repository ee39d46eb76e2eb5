import COpenSSL

/// Signature schemes, as JWS names them (RFC 7518 §3, RFC 8037).
public enum SignatureScheme: Sendable, Equatable {
    public enum Digest: Sendable { case sha256, sha384, sha512 }

    case rsaPKCS1(Digest)
    case rsaPSS(Digest)
    case ecdsa(Digest, PublicKey.Curve)
    case ed25519
}

extension PublicKey {
    /// Verifies `signature` over `message`. False for a bad signature, a key that does not
    /// fit the scheme (an RS256 token checked against an EC key, a P-256 signature against
    /// a P-384 key), or malformed input; never traps.
    public func verify(_ signature: [UInt8], of message: [UInt8], scheme: SignatureScheme) -> Bool {
        defer { ERR_clear_error() }
        var derSignature = signature
        let digest: SignatureScheme.Digest?
        switch (scheme, kind) {
        case (.rsaPKCS1(let d), .rsa), (.rsaPSS(let d), .rsa):
            digest = d
        case (.ecdsa(let d, let curve), .ec(let keyCurve)) where curve == keyCurve:
            // JWS carries r || s; OpenSSL wants the DER SEQUENCE of two INTEGERs.
            guard let der = ECDSASignature.der(fromRaw: signature, coordinateSize: curve.coordinateSize) else {
                return false
            }
            derSignature = der
            digest = d
        case (.ed25519, .ed25519):
            digest = nil
        default:
            return false
        }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer?
        let md: OpaquePointer? = switch digest {
        case .sha256: EVP_sha256()
        case .sha384: EVP_sha384()
        case .sha512: EVP_sha512()
        case nil: nil
        }
        guard EVP_DigestVerifyInit(context, &keyContext, md, nil, key) == 1 else { return false }
        if case .rsaPSS = scheme {
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) == 1,
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, RSA_PSS_SALTLEN_DIGEST) == 1 else { return false }
        }
        return derSignature.withUnsafeBufferPointer { sig in
            message.withUnsafeBufferPointer { msg in
                EVP_DigestVerify(context, sig.baseAddress, sig.count, msg.baseAddress, msg.count) == 1
            }
        }
    }
}

/// Converts JWS ECDSA signatures (fixed-size r || s) to DER.
enum ECDSASignature {
    static func der(fromRaw raw: [UInt8], coordinateSize: Int) -> [UInt8]? {
        guard raw.count == 2 * coordinateSize else { return nil }
        let body = integer(raw[..<coordinateSize]) + integer(raw[coordinateSize...])
        return [0x30] + length(body.count) + body
    }

    /// A DER INTEGER: minimal big-endian bytes, with a zero byte in front if the high bit is set.
    private static func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var value = Array(bytes.drop { $0 == 0 })
        if value.isEmpty { value = [0] }
        if value[0] & 0x80 != 0 { value.insert(0, at: 0) }
        return [0x02] + length(value.count) + value
    }

    private static func length(_ n: Int) -> [UInt8] {
        n < 0x80 ? [UInt8(n)] : [0x81, UInt8(n)]  // signatures stay below 256 bytes
    }
}
