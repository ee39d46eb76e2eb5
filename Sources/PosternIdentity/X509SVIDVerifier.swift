import PosternCrypto

/// Verifies X.509-SVIDs as the SPIFFE X.509-SVID standard says: exactly one URI SAN that
/// is a workload SPIFFE ID, a leaf that is no CA and cannot sign certificates, a chain to
/// the bundle of the ID's own trust domain (never another's), valid now, and a validity
/// period no longer than `maxValidity` (a long-lived certificate is a standing credential).
public struct X509SVIDVerifier: Sendable {
    public var bundles: [TrustDomain: TrustAnchors]
    public var maxValidity: Int64

    public init(bundles: [TrustDomain: TrustAnchors], maxValidity: Int64 = 86_400) {
        self.bundles = bundles
        self.maxValidity = maxValidity
    }

    /// `chain` is the peer's leaf first, then the intermediates it sent.
    public func verify(chain: [Certificate], now: Int64? = nil) throws(SVIDError) -> Principal {
        guard let leaf = chain.first else { throw .noCertificate }
        let uris = leaf.uriSANs
        guard uris.count == 1 else { throw .uriSANCount(uris.count) }
        let spiffeID: SPIFFEID
        do {
            spiffeID = try SPIFFEID(uris[0])
        } catch {
            throw .badSPIFFEID(error.description)
        }
        guard spiffeID.isWorkload else { throw .badSPIFFEID("a workload's SPIFFE ID has a path") }
        guard !leaf.isCA else { throw .leafIsCA }
        guard !leaf.canSignCertificates else { throw .leafCanSign }
        guard !leaf.lacksDigitalSignature else { throw .leafCannotSign }
        guard let validity = leaf.validity else { throw .unreadableValidity }
        let lifetime = validity.notAfter - validity.notBefore
        guard lifetime <= maxValidity else { throw .standingCredential(lifetimeSeconds: lifetime, maxSeconds: maxValidity) }
        guard let anchors = bundles[spiffeID.trustDomain] else { throw .untrustedTrustDomain(spiffeID.trustDomain.name) }
        if let failure = anchors.verify(leaf, intermediates: Array(chain.dropFirst()), at: now) {
            throw .chain(failure)
        }
        return Principal(id: spiffeID.description, source: .mtls, spiffeID: spiffeID,
                         trustDomain: spiffeID.trustDomain, expiry: validity.notAfter,
                         credentialID: leaf.serialHex)
    }
}

/// Why a client certificate is not an acceptable X.509-SVID.
public enum SVIDError: Error, Equatable, Sendable, CustomStringConvertible {
    case noCertificate
    case uriSANCount(Int)
    case badSPIFFEID(String)
    case leafIsCA
    case leafCanSign
    case leafCannotSign
    case unreadableValidity
    case standingCredential(lifetimeSeconds: Int64, maxSeconds: Int64)
    case untrustedTrustDomain(String)
    case chain(TrustAnchors.Failure)

    public var description: String {
        switch self {
        case .noCertificate: "no client certificate"
        case .uriSANCount(let n): "an X.509-SVID has exactly one URI SAN, this certificate has \(n)"
        case .badSPIFFEID(let why): "the URI SAN is not a workload SPIFFE ID: \(why)"
        case .leafIsCA: "the certificate is a CA (basicConstraints cA=true), not an SVID leaf"
        case .leafCanSign: "an SVID leaf must not have keyCertSign or cRLSign"
        case .leafCannotSign: "an SVID leaf's keyUsage must include digitalSignature"
        case .unreadableValidity: "the certificate's validity period is unreadable"
        case .standingCredential(let lifetime, let max):
            "certificate is valid for \(lifetime) s, longer than the \(max) s allowed: a long-lived certificate is a standing credential"
        case .untrustedTrustDomain(let domain): "trust domain '\(domain)' is not trusted"
        case .chain(let failure): "certificate chain does not verify against its trust domain's bundle: \(failure.reason)"
        }
    }
}
