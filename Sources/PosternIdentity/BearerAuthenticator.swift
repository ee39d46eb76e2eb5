/// Checks `authorization: Bearer` tokens against every configured source: OIDC issuers by
/// their exact `iss`, JWT-SVID validators by the trust domain of `sub`. The token's
/// unverified claims only choose the validator; the validator trusts nothing unverified.
public struct BearerAuthenticator: Sendable {
    public var jwtSVID: [JWTSVIDValidator]
    public var oidc: [OIDCValidator]

    public init(jwtSVID: [JWTSVIDValidator], oidc: [OIDCValidator]) {
        self.jwtSVID = jwtSVID
        self.oidc = oidc
    }

    public var isEmpty: Bool { jwtSVID.isEmpty && oidc.isEmpty }

    public func authenticate(_ token: Substring, now: Int64) throws(TokenError) -> Principal {
        // Parsed once with every public-key algorithm to route it; `none`/HS* fail here first.
        let peek = try CompactJWS(token, allowed: Set(JWSAlgorithm.allCases))
        if let issuer = peek.claims["iss"]?.string, let validator = oidc.first(where: { $0.issuer == issuer }) {
            return try validator.validate(token, now: now)
        }
        guard !jwtSVID.isEmpty else {
            throw oidc.isEmpty ? .noTrustedIssuer : .wrongIssuer(expected: oidc.map(\.issuer).joined(separator: " or "))
        }
        let domain = peek.claims["sub"]?.string.flatMap { try? SPIFFEID($0) }?.trustDomain
        let validator = jwtSVID.first { domain != nil && $0.bundles[domain!] != nil } ?? jwtSVID[0]
        return try validator.validate(token, now: now)
    }
}
