/// Who is calling, as proven by a short-lived credential. Every later step (policy, audit,
/// the request log) sees this, never the credential itself.
public struct Principal: Sendable, Equatable {
    public enum Source: String, Sendable {
        case mtls
        case jwtSVID = "jwt-svid"
        case oidc
    }

    /// The SPIFFE ID for SVIDs; for OIDC, the value of the configured identity claim.
    public var id: String
    public var source: Source
    public var spiffeID: SPIFFEID?
    public var trustDomain: TrustDomain?
    /// The OIDC issuer (`iss`); nil for SVIDs.
    public var issuer: String?
    /// Seconds since the epoch after which the credential is no longer valid.
    public var expiry: Int64
    /// `jti` of a token, or the serial number of a certificate, for the audit trail.
    public var credentialID: String?
    /// OIDC groups, from the issuer's configured `groups_claim`; empty for SVIDs.
    public var groups: [String] = []

    public init(id: String, source: Source, spiffeID: SPIFFEID? = nil, trustDomain: TrustDomain? = nil,
                issuer: String? = nil, expiry: Int64, credentialID: String? = nil) {
        self.id = id
        self.source = source
        self.spiffeID = spiffeID
        self.trustDomain = trustDomain
        self.issuer = issuer
        self.expiry = expiry
        self.credentialID = credentialID
    }
}
