/// Why a bearer token was refused. Messages go to the caller (401 / UNAUTHENTICATED) and to
/// the log, so they say which rule failed without echoing the token.
public enum TokenError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooLarge(Int)
    case notCompactJWS
    case malformed(String)
    case unsignedOrSymmetric(String)
    case algorithmNotAllowed(String)
    case wrongType(String)
    case missingExpiry
    case standingCredential(lifetimeSeconds: Int64, maxSeconds: Int64)
    case expired(secondsAgo: Int64)
    case notYetValid(inSeconds: Int64)
    case issuedInTheFuture(inSeconds: Int64)
    case badSubject(String)
    case untrustedTrustDomain(String)
    case unknownKey(String)
    case badSignature
    case wrongAudience(expected: String)
    case wrongIssuer(expected: String)
    case noTrustedIssuer

    public var description: String {
        switch self {
        case .tooLarge(let n): "token is \(n) bytes, more than \(CompactJWS.maxLength)"
        case .notCompactJWS: "token is not a JWS in compact form (three base64url parts)"
        case .malformed(let part): "token \(part) is malformed"
        case .unsignedOrSymmetric(let alg):
            "token algorithm '\(alg)' is refused: tokens must be signed with a public-key algorithm"
        case .algorithmNotAllowed(let alg): "token algorithm '\(alg)' is not allowed"
        case .wrongType(let typ): "token type '\(typ)' is not JWT"
        case .missingExpiry: "token has no expiry: a token that never expires is a standing credential"
        case .standingCredential(let lifetime, let max):
            "token is valid for \(lifetime) s, longer than the \(max) s allowed: a long-lived token is a standing credential"
        case .expired(let ago): "token expired \(ago) s ago"
        case .notYetValid(let seconds): "token is not valid for another \(seconds) s"
        case .issuedInTheFuture(let seconds): "token is issued \(seconds) s in the future"
        case .badSubject(let why): "token subject is not a workload SPIFFE ID: \(why)"
        case .untrustedTrustDomain(let domain): "trust domain '\(domain)' is not trusted"
        case .unknownKey(let kid): "no key '\(kid)' in the trust domain's bundle"
        case .badSignature: "token signature does not verify"
        case .wrongAudience(let expected): "token is not for audience '\(expected)'"
        case .wrongIssuer(let expected): "token is not from issuer '\(expected)'"
        case .noTrustedIssuer: "bearer tokens are not accepted here: no token issuer is configured"
        }
    }
}
