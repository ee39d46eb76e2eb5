import COpenSSL
import PosternConfig
import PosternCrypto
import PosternIdentity

/// One server certificate, key and TLS policy, as an OpenSSL SSL_CTX. Immutable once
/// built: a credential reload builds a new context, connections keep the one they began
/// with, and new connections take the newest.
public final class TLSServerContext: @unchecked Sendable {
    public enum Version: String, Sendable { case tls12 = "1.2", tls13 = "1.3" }

    /// Whether callers present X.509-SVIDs: not asked for, optional (a caller without one
    /// must bring a token), or required (the handshake fails without one).
    public typealias ClientCertificates = TLSSettings.ClientCertificates

    let context: OpaquePointer
    /// Verifies client certificates; nil when none are asked for.
    public let verifier: X509SVIDVerifier?
    /// The server leaf's notAfter, for logs and readiness.
    public let certificateExpiry: Int64?

    /// `chain` is the server's certificate first, then its intermediates (never empty).
    /// `http1Only`: ALPN offers HTTP/1.1 alone (the admin listener speaks nothing else).
    public init(certificateChain chain: [Certificate], privateKeyPEM: [UInt8], minimumVersion: Version = .tls12,
                clientCertificates: ClientCertificates, verifier: X509SVIDVerifier?, http1Only: Bool = false) throws(TLSError) {
        guard !chain.isEmpty else { throw .credentials("certificate: the chain is empty") }
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw .credentials("SSL_CTX_new failed") }
        self.context = context
        self.verifier = clientCertificates == .none ? nil : verifier
        self.certificateExpiry = chain[0].validity?.notAfter
        defer { ERR_clear_error() }
        let version = minimumVersion == .tls13 ? TLS1_3_VERSION : TLS1_2_VERSION
        guard postern_ssl_ctx_set_min_proto_version(context, version) == 1 else { throw .credentials("minimum version") }
        postern_ssl_ctx_set_server_options(context)
        _ = postern_ssl_ctx_disable_session_cache(context)
        guard SSL_CTX_use_certificate(context, chain[0].x509) == 1 else {
            throw .credentials("certificate: \(OpenSSLError.drain())")
        }
        for intermediate in chain.dropFirst() where postern_ssl_ctx_add1_chain_cert(context, intermediate.x509) != 1 {
            throw .credentials("certificate chain: \(OpenSSLError.drain())")
        }
        guard let key = Self.privateKey(privateKeyPEM) else {
            throw .credentials("private key: not a PEM private key (\(OpenSSLError.drain()))")
        }
        defer { EVP_PKEY_free(key) }
        guard SSL_CTX_use_PrivateKey(context, key) == 1, SSL_CTX_check_private_key(context) == 1 else {
            throw .credentials("private key does not match the certificate")
        }
        if http1Only { postern_ssl_ctx_use_alpn_http1(context) } else { postern_ssl_ctx_use_alpn(context) }
        switch clientCertificates {
        case .none:
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        case .optional, .required:
            guard verifier != nil else { throw .credentials("client certificates need trust bundles") }
            let mode = SSL_VERIFY_PEER | (clientCertificates == .required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0)
            SSL_CTX_set_verify(context, mode, nil)
            SSL_CTX_set_cert_verify_callback(context, verifyPeerChain, nil)
        }
    }

    deinit { SSL_CTX_free(context) }

    private static func privateKey(_ pem: [UInt8]) -> OpaquePointer? {
        pem.withUnsafeBytes { bytes in
            guard let bio = BIO_new_mem_buf(bytes.baseAddress, Int32(bytes.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
    }
}

/// Why TLS material could not be used.
public enum TLSError: Error, Equatable, Sendable, CustomStringConvertible {
    case credentials(String)

    public var description: String {
        switch self {
        case .credentials(let why): why
        }
    }
}
