import COpenSSL

/// SHA-256 (OpenSSL's one-shot EVP_Digest): pinned prompts, request digests.
public enum SHA256 {
    public static func digest(_ message: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let bytes = Array(message)
        let ok = bytes.withUnsafeBufferPointer { m in
            out.withUnsafeMutableBufferPointer { o in
                EVP_Digest(m.baseAddress, m.count, o.baseAddress, &length, EVP_sha256(), nil)
            }
        }
        ERR_clear_error()
        return ok == 1 && length == 32 ? out : []
    }

    /// Lower-case hex, as operators write digests (`sha256sum`).
    public static func hex(_ message: some Collection<UInt8>) -> String { Hex.encode(digest(message)) }
}

/// A reusable SHA-256 context for hashing many small inputs (the audit tree's leaves and
/// nodes): the digest is fetched once and the context reset per hash, where the one-shot
/// `EVP_Digest` fetches and allocates on every call. One per thread; not shared.
public final class SHA256Hasher {
    // An EVP_MD is immutable once fetched and safe to use from any thread.
    nonisolated(unsafe) private static let digest: OpaquePointer? = EVP_MD_fetch(nil, "SHA256", nil)
    private let context: OpaquePointer?

    public init() { context = EVP_MD_CTX_new() }
    deinit { EVP_MD_CTX_free(context) }

    /// SHA-256(prefix ‖ first ‖ second).
    public func hash(prefix: UInt8, _ first: ArraySlice<UInt8>, _ second: ArraySlice<UInt8> = []) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var prefix = prefix
        var length: UInt32 = 0
        let ok = EVP_DigestInit_ex2(context, Self.digest, nil) == 1
            && EVP_DigestUpdate(context, &prefix, 1) == 1
            && first.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress, $0.count) } == 1
            && second.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress, $0.count) } == 1
            && EVP_DigestFinal_ex(context, &out, &length) == 1
        guard ok, length == 32 else {
            ERR_clear_error()
            return SHA256.digest([prefix] + Array(first) + Array(second))  // never expected; same result
        }
        return out
    }
}
