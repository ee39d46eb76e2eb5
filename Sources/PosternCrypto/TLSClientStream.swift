import COpenSSL

/// A blocking TLS client on a connected socket, for the audit trail's syslog export and
/// the `postern audit` commands: TLS 1.2 or later, the server's certificate checked
/// against a CA file and its name (RFC 6125), nothing sent before the handshake verifies.
/// Used by one thread at a time (the exporter's), which is what makes handing it between
/// locks safe.
public final class TLSClientStream: @unchecked Sendable {
    private let context: OpaquePointer
    private let ssl: OpaquePointer

    /// Handshakes on `fd` (which the caller closes) with the server `serverName`, offering
    /// `alpn` (say `["h2"]`) when given.
    /// `identity`: the client's own certificate chain and key files (PEM), for mTLS.
    public init(fd: Int32, serverName: String, caFile: String, alpn: [String] = [],
                identity: (certificateFile: String, keyFile: String)? = nil) throws(CryptoError) {
        defer { ERR_clear_error() }
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw .openSSL("SSL_CTX_new") }
        guard postern_ssl_ctx_set_min_proto_version(context, TLS1_2_VERSION) == 1,
              SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
            SSL_CTX_free(context)
            throw .invalidCertificate("cannot load the CA file \(caFile)")
        }
        if let identity {
            guard SSL_CTX_use_certificate_chain_file(context, identity.certificateFile) == 1,
                  SSL_CTX_use_PrivateKey_file(context, identity.keyFile, SSL_FILETYPE_PEM) == 1,
                  SSL_CTX_check_private_key(context) == 1 else {
                SSL_CTX_free(context)
                throw .invalidCertificate("cannot use the certificate \(identity.certificateFile) with the key \(identity.keyFile)")
            }
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        guard let ssl = SSL_new(context) else {
            SSL_CTX_free(context)
            throw .openSSL("SSL_new")
        }
        self.context = context
        self.ssl = ssl
        guard SSL_set_fd(ssl, fd) == 1, SSL_set1_host(ssl, serverName) == 1,
              postern_ssl_set_server_name(ssl, serverName) == 1 else { throw .openSSL("SSL_set_fd") }
        if !alpn.isEmpty {
            let wire = alpn.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
            guard SSL_set_alpn_protos(ssl, wire, UInt32(wire.count)) == 0 else { throw .openSSL("SSL_set_alpn_protos") }
        }
        guard SSL_connect(ssl) == 1 else {
            let result = SSL_get_verify_result(ssl)
            let reason = result == X509_V_OK ? "handshake failed"
                : String(cString: X509_verify_cert_error_string(Int(result)))
            throw .invalidCertificate("TLS to \(serverName): \(reason)")
        }
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    /// Writes all of `bytes`; false when the connection failed.
    public func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + offset, Int32($0.count - offset)) }
            guard n > 0 else {
                ERR_clear_error()
                return false
            }
            offset += Int(n)
        }
        return true
    }

    /// Reads what has arrived (blocking until something has): the byte count, 0 at the
    /// end of the stream (close_notify or a closed connection), -1 on an error.
    public func read(into buffer: inout [UInt8]) -> Int {
        let n = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
        guard n > 0 else {
            let code = SSL_get_error(ssl, n)
            ERR_clear_error()
            return code == SSL_ERROR_ZERO_RETURN || code == SSL_ERROR_SYSCALL && n == 0 ? 0 : -1
        }
        return Int(n)
    }

    /// Whether decrypted bytes wait to be read (a poll on the socket would not see them).
    public var hasPending: Bool { SSL_pending(ssl) > 0 }

    /// The protocol the server chose by ALPN, if any.
    public var negotiatedProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// Sends close_notify (best effort).
    public func shutdown() {
        SSL_shutdown(ssl)
        ERR_clear_error()
    }
}
