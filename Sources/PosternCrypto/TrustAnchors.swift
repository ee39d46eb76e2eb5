import COpenSSL

/// The CA certificates of one trust domain, as an OpenSSL X509_STORE. Chains are verified
/// against one `TrustAnchors` at a time, so trust domains are never pooled.
public final class TrustAnchors: @unchecked Sendable {
    /// Why a chain did not verify: OpenSSL's X509_V_ERR code and its text.
    public struct Failure: Error, Equatable, Sendable {
        public var code: Int32
        public var reason: String

        public var isExpired: Bool { code == X509_V_ERR_CERT_HAS_EXPIRED }
        public var isNotYetValid: Bool { code == X509_V_ERR_CERT_NOT_YET_VALID }
    }

    // X509_STORE is safe to verify against from several threads; it is never changed
    // after init (a reload builds a new one).
    private let store: OpaquePointer
    public let certificates: [Certificate]

    public init(_ certificates: [Certificate]) throws(CryptoError) {
        guard !certificates.isEmpty else { throw .invalidCertificate("a trust bundle needs at least one CA") }
        guard let store = X509_STORE_new() else { throw .openSSL("X509_STORE_new") }
        self.store = store
        self.certificates = certificates
        for certificate in certificates where X509_STORE_add_cert(store, certificate.x509) != 1 {
            ERR_clear_error()  // a duplicate is not an error worth failing on
        }
    }

    deinit { X509_STORE_free(store) }

    /// Verifies that `leaf` chains to one of these anchors through `intermediates`, with
    /// every certificate valid at `time` (seconds since the epoch; now when nil).
    public func verify(_ leaf: Certificate, intermediates: [Certificate], at time: Int64? = nil) -> Failure? {
        guard let context = X509_STORE_CTX_new() else { return Failure(code: -1, reason: "out of memory") }
        defer { X509_STORE_CTX_free(context) }
        guard let untrusted = postern_x509_stack_new() else { return Failure(code: -1, reason: "out of memory") }
        defer { postern_x509_stack_free(untrusted) }
        for certificate in intermediates { _ = postern_x509_stack_push(untrusted, certificate.x509) }
        guard X509_STORE_CTX_init(context, store, leaf.x509, untrusted) == 1 else {
            return Failure(code: -1, reason: "cannot start chain verification")
        }
        if let time { X509_STORE_CTX_set_time(context, 0, time_t(time)) }
        defer { ERR_clear_error() }
        if X509_verify_cert(context) == 1 { return nil }
        let code = X509_STORE_CTX_get_error(context)
        return Failure(code: code, reason: String(cString: X509_verify_cert_error_string(Int(code))))
    }
}
