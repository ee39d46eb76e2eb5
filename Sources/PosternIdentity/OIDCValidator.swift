import PosternCrypto

/// Validates OIDC ID or access tokens from one configured issuer: exact `iss`, Postern's
/// audience, a key from the issuer's JWKS, an allowed public-key algorithm, a short
/// lifetime; the caller's identity is the value of a configured claim (`sub`, `email`, …).
public struct OIDCValidator: Sendable {
    public var issuer: String
    public var audience: String
    public var keys: KeySet
    /// The claim whose string value names the caller.
    public var identityClaim: String
    /// The claim holding the caller's groups (a list of strings), if any.
    public var groupsClaim: String?
    public var algorithms: Set<JWSAlgorithm>
    public var leeway: Int64
    public var maxLifetime: Int64

    public init(issuer: String, audience: String, keys: KeySet, identityClaim: String = "sub",
                algorithms: Set<JWSAlgorithm> = Set(JWSAlgorithm.allCases), leeway: Int64 = 60, maxLifetime: Int64 = 900) {
        self.issuer = issuer
        self.audience = audience
        self.keys = keys
        self.identityClaim = identityClaim
        self.algorithms = algorithms
        self.leeway = leeway
        self.maxLifetime = maxLifetime
    }

    public func validate<S: StringProtocol>(_ token: S, now: Int64) throws(TokenError) -> Principal {
        let jws = try CompactJWS(token, allowed: algorithms)
        // The issuer is compared exactly (OIDC Core §3.1.3.7): no case folding, no trailing-slash games.
        guard jws.claims["iss"]?.string == issuer else { throw .wrongIssuer(expected: issuer) }
        try jws.verify(keys: keys.candidates(for: jws.keyID), keyID: jws.keyID ?? "(none)", audience: audience)
        let times = try TokenTimes(claims: jws.claims)
        try times.check(now: now, leeway: leeway, maxLifetime: maxLifetime)
        guard let id = jws.claims[identityClaim]?.string, !id.isEmpty else {
            throw .malformed("claims (no string '\(identityClaim)' to identify the caller)")
        }
        var principal = Principal(id: id, source: .oidc, issuer: issuer, expiry: times.expiry,
                                  credentialID: jws.claims["jti"]?.string)
        if let groupsClaim, case .array(let values)? = jws.claims[groupsClaim] {
            principal.groups = values.compactMap(\.string)
        }
        return principal
    }
}
