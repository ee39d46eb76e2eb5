import COpenSSL

/// A public key held by OpenSSL (an immutable EVP_PKEY), for verifying signatures.
/// Verification does not mutate the key, so one instance may serve every event loop.
public final class PublicKey: @unchecked Sendable {
    public enum Kind: Equatable, Sendable {
        case rsa(bits: Int)
        case ec(Curve)
        case ed25519
    }

    public enum Curve: String, Sendable, CaseIterable {
        case p256 = "prime256v1", p384 = "secp384r1", p521 = "secp521r1"

        /// Bytes per coordinate (and per half of a raw JWS signature).
        public var coordinateSize: Int {
            switch self {
            case .p256: 32
            case .p384: 48
            case .p521: 66
            }
        }
    }

    /// RSA keys below this are refused (RFC 7518 §3.3 requires 2048 bits).
    public static let minimumRSABits = 2048

    public let kind: Kind
    let key: OpaquePointer

    private init(_ key: OpaquePointer, _ kind: Kind) {
        self.key = key
        self.kind = kind
    }

    deinit { EVP_PKEY_free(key) }

    /// An RSA public key from its big-endian modulus and exponent.
    public static func rsa(modulus: [UInt8], exponent: [UInt8]) throws(CryptoError) -> PublicKey {
        let n = modulus.drop { $0 == 0 }
        guard !n.isEmpty, !exponent.isEmpty, exponent.count <= 8 else { throw .invalidKey("RSA modulus or exponent") }
        let bits = (n.count - 1) * 8 + (8 - n.first!.leadingZeroBitCount)
        guard bits >= minimumRSABits else { throw .weakKey("RSA key of \(bits) bits") }
        let key = try fromData("RSA") { builder, storage throws(CryptoError) in
            for (name, bytes) in [(postern_param_rsa_n(), Array(n)), (postern_param_rsa_e(), exponent)] {
                guard let bn = storage.bignum(bytes), OSSL_PARAM_BLD_push_BN(builder, name, bn) == 1 else {
                    throw .invalidKey("RSA parameter")
                }
            }
        }
        return PublicKey(key, .rsa(bits: bits))
    }

    /// An elliptic-curve public key from its affine coordinates. OpenSSL checks that the
    /// point lies on the curve, which defeats invalid-curve attacks.
    public static func ec(curve: Curve, x: [UInt8], y: [UInt8]) throws(CryptoError) -> PublicKey {
        guard x.count == curve.coordinateSize, y.count == curve.coordinateSize else {
            throw .invalidKey("EC coordinates of the wrong length for \(curve)")
        }
        let point = [0x04] + x + y  // uncompressed SEC1 encoding
        let key = try fromData("EC") { builder, storage throws(CryptoError) in
            let group = storage.bytes(Array(curve.rawValue.utf8) + [0])
            let pub = storage.bytes(point)
            guard OSSL_PARAM_BLD_push_utf8_string(builder, postern_param_group_name(),
                                                  group.baseAddress?.assumingMemoryBound(to: CChar.self), 0) == 1,
                  OSSL_PARAM_BLD_push_octet_string(builder, postern_param_public_key(), pub.baseAddress, pub.count) == 1
            else { throw .invalidKey("EC parameters") }
        }
        return PublicKey(key, .ec(curve))
    }

    /// An Ed25519 public key from its 32 raw bytes.
    public static func ed25519(_ raw: [UInt8]) throws(CryptoError) -> PublicKey {
        guard raw.count == 32,
              let key = raw.withUnsafeBufferPointer({ EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, $0.baseAddress, $0.count) })
        else {
            ERR_clear_error()
            throw .invalidKey("Ed25519 public key")
        }
        return PublicKey(key, .ed25519)
    }

    /// Builds an EVP_PKEY of `type` from parameters that `fill` pushes onto a builder.
    private static func fromData(
        _ type: String,
        _ fill: (OpaquePointer, ParameterStorage) throws(CryptoError) -> Void
    ) throws(CryptoError) -> OpaquePointer {
        defer { ERR_clear_error() }
        guard let builder = OSSL_PARAM_BLD_new() else { throw .openSSL("OSSL_PARAM_BLD_new") }
        defer { OSSL_PARAM_BLD_free(builder) }
        let storage = ParameterStorage()
        try fill(builder, storage)
        guard let params = OSSL_PARAM_BLD_to_param(builder) else { throw .openSSL("OSSL_PARAM_BLD_to_param") }
        defer { OSSL_PARAM_free(params) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, type, nil) else { throw .openSSL("EVP_PKEY_CTX_new_from_name") }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        let built = EVP_PKEY_fromdata_init(context) == 1
            && EVP_PKEY_fromdata(context, &key, postern_evp_pkey_public_key_selection(), params) == 1
        withExtendedLifetime(storage) {}
        guard built, let key else { throw .invalidKey("\(type) key rejected by OpenSSL") }
        return key
    }
}

/// Memory behind OSSL_PARAM_BLD entries. The builder keeps pointers to values (and
/// BIGNUMs) until `OSSL_PARAM_BLD_to_param` copies them, so they must outlive that call,
/// which Swift's temporary pointers do not.
final class ParameterStorage {
    private var buffers: [UnsafeMutableRawBufferPointer] = []
    private var bignums: [OpaquePointer] = []

    func bytes(_ value: [UInt8]) -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(value.count, 1), alignment: 1)
        buffer.copyBytes(from: value)
        buffers.append(buffer)
        return UnsafeMutableRawBufferPointer(rebasing: buffer[..<value.count])
    }

    func bignum(_ value: [UInt8]) -> OpaquePointer? {
        guard let bn = value.withUnsafeBufferPointer({ BN_bin2bn($0.baseAddress, Int32($0.count), nil) }) else { return nil }
        bignums.append(bn)
        return bn
    }

    deinit {
        buffers.forEach { $0.deallocate() }
        bignums.forEach { BN_free($0) }
    }
}
