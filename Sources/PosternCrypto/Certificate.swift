import COpenSSL

/// An X.509 certificate held by OpenSSL (a reference to an X509, never mutated), with the
/// few facts SVID verification reads from it.
public final class Certificate: @unchecked Sendable {
    /// The X509, for the TLS layer to hand to OpenSSL.
    public let x509: OpaquePointer

    /// Takes a new reference to an X509 (from a TLS handshake); the caller keeps its own.
    public init(retaining x509: OpaquePointer) {
        X509_up_ref(x509)
        self.x509 = x509
    }

    private init(owning x509: OpaquePointer) { self.x509 = x509 }

    deinit { X509_free(x509) }

    /// Every certificate in a PEM document, in order. Anything other than whole
    /// `CERTIFICATE` blocks (and text between them) makes the document invalid.
    public static func parsePEM(_ pem: [UInt8]) throws(CryptoError) -> [Certificate] {
        var certificates: [Certificate] = []
        let ok = pem.withUnsafeBytes { bytes -> Bool in
            guard let bio = BIO_new_mem_buf(bytes.baseAddress, Int32(bytes.count)) else { return false }
            defer { BIO_free(bio) }
            ERR_clear_error()
            while let x509 = PEM_read_bio_X509(bio, nil, nil, nil) {
                certificates.append(Certificate(owning: x509))
            }
            // The loop ends at the end of the data (PEM_R_NO_START_LINE) or at a broken block.
            let error = ERR_peek_last_error()
            ERR_clear_error()
            return ERR_GET_REASON(error) == PEM_R_NO_START_LINE
        }
        guard ok, !certificates.isEmpty else { throw .invalidCertificate("no valid PEM CERTIFICATE block") }
        return certificates
    }

    /// The URI entries of subjectAltName (an unreadable or repeated extension gives none).
    public var uriSANs: [String] {
        guard let raw = X509_get_ext_d2i(x509, NID_subject_alt_name, nil, nil) else { return [] }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var uris: [String] = []
        for index in 0..<postern_general_names_count(names) {
            guard let uri = postern_general_name_uri(names, index),
                  let data = ASN1_STRING_get0_data(uri) else { continue }
            let bytes = UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(uri)))
            uris.append(String(decoding: bytes, as: UTF8.self))
        }
        return uris
    }

    /// basicConstraints says cA = true.
    public var isCA: Bool { X509_get_extension_flags(x509) & UInt32(postern_exflag_ca()) != 0 }

    /// keyUsage allows signing certificates or CRLs.
    public var canSignCertificates: Bool {
        let usage = X509_get_key_usage(x509)
        return usage != UInt32.max && usage & UInt32(postern_ku_cert_or_crl_sign()) != 0
    }

    /// keyUsage is present and lacks digitalSignature (an SVID leaf needs it).
    public var lacksDigitalSignature: Bool {
        let usage = X509_get_key_usage(x509)
        return usage != UInt32.max && usage & UInt32(postern_ku_digital_signature()) == 0
    }

    /// notBefore and notAfter, in seconds since the epoch.
    public var validity: (notBefore: Int64, notAfter: Int64)? {
        guard let from = Self.epochSeconds(X509_get0_notBefore(x509)),
              let until = Self.epochSeconds(X509_get0_notAfter(x509)) else { return nil }
        return (from, until)
    }

    /// The serial number in upper-case hex, as `openssl x509 -serial` prints it.
    public var serialHex: String {
        guard let bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509), nil) else { return "" }
        defer { BN_free(bn) }
        guard let hex = BN_bn2hex(bn) else { return "" }
        defer { postern_openssl_free(hex) }
        return String(cString: hex)
    }

    private static func epochSeconds(_ time: UnsafePointer<ASN1_TIME>?) -> Int64? {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        let days = daysFromCivil(year: Int64(parts.tm_year) + 1900, month: Int64(parts.tm_mon) + 1,
                                 day: Int64(parts.tm_mday))
        return days * 86_400 + Int64(parts.tm_hour) * 3600 + Int64(parts.tm_min) * 60 + Int64(parts.tm_sec)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
