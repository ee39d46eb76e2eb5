import PosternCrypto

/// Validates JWT-SVIDs (SPIFFE JWT-SVID standard): signed by a key of the bundle of the
/// subject's own trust domain (bundles are never pooled), carrying `kid`, a workload
/// SPIFFE ID as `sub`, Postern's audience, and a short lifetime.
public struct JWTSVIDValidator: Sendable {
    public var bundles: [TrustDomain: KeySet]
    public var audience: String
    /// When set, `iss` must be exactly this (the JWT-SVID standard leaves `iss` optional).
    public var issuer: String?
    public var leeway: Int64
    public var maxLifetime: Int64

    public init(bundles: [TrustDomain: KeySet], audience: String, issuer: String? = nil, leeway: Int64 = 60,
                maxLifetime: Int64 = 900) {
        self.bundles = bundles
        self.audience = audience
        self.issuer = issuer
        self.leeway = leeway
        self.maxLifetime = maxLifetime
    }

    /// Checks run in an order that trusts nothing unverified: structure and algorithm, key
    /// id, subject syntax, the subject's bundle, the signature; only then audience and times.
    public func validate<S: StringProtocol>(_ token: S, now: Int64) throws(TokenError) -> Principal {
        let jws = try CompactJWS(token, allowed: JWSAlgorithm.jwtSVID)
        guard let keyID = jws.keyID else { throw .malformed("header (a JWT-SVID needs kid)") }
        guard let subject = jws.claims["sub"]?.string else { throw .malformed("claims (no sub)") }
        let spiffeID: SPIFFEID
        do {
            spiffeID = try SPIFFEID(subject)
        } catch {
            throw .badSubject(error.description)
        }
        guard spiffeID.isWorkload else { throw .badSubject("a workload's SPIFFE ID has a path") }
        guard let bundle = bundles[spiffeID.trustDomain] else {
            throw .untrustedTrustDomain(spiffeID.trustDomain.name)
        }
        try jws.verify(keys: bundle.candidates(for: keyID), keyID: keyID, audience: audience)
        if let issuer, jws.claims["iss"]?.string != issuer { throw .wrongIssuer(expected: issuer) }
        let times = try TokenTimes(claims: jws.claims)
        try times.check(now: now, leeway: leeway, maxLifetime: maxLifetime)
        return Principal(id: spiffeID.description, source: .jwtSVID, spiffeID: spiffeID,
                         trustDomain: spiffeID.trustDomain, expiry: times.expiry,
                         credentialID: jws.claims["jti"]?.string)
    }
}
