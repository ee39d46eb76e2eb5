import PosternJSON
/// The time rules for a bearer token (RFC 7519 §4.1.4–4.1.6), plus Postern's own: a token
/// must expire, and not later than `maxLifetime` after it was issued. Times are seconds
/// since the epoch; `leeway` absorbs clock skew between issuer and Postern.
public struct TokenTimes: Sendable, Equatable {
    public var expiry: Int64
    public var notBefore: Int64?
    public var issuedAt: Int64?

    public init(claims: JSONValue) throws(TokenError) {
        guard let exp = claims["exp"] else { throw .missingExpiry }
        expiry = try Self.numericDate(exp, "exp")
        notBefore = try claims["nbf"].map { value throws(TokenError) in try Self.numericDate(value, "nbf") }
        issuedAt = try claims["iat"].map { value throws(TokenError) in try Self.numericDate(value, "iat") }
    }

    public func check(now: Int64, leeway: Int64, maxLifetime: Int64) throws(TokenError) {
        // Lifetime first: a standing credential is refused even while it is "valid".
        let lifetime = issuedAt.map { expiry - $0 } ?? (expiry - now)
        if lifetime > maxLifetime + (issuedAt == nil ? leeway : 0) {
            throw .standingCredential(lifetimeSeconds: lifetime, maxSeconds: maxLifetime)
        }
        if now >= expiry + leeway { throw .expired(secondsAgo: now - expiry) }
        if let notBefore, notBefore - leeway > now { throw .notYetValid(inSeconds: notBefore - now) }
        if let issuedAt, issuedAt - leeway > now { throw .issuedInTheFuture(inSeconds: issuedAt - now) }
    }

    /// A NumericDate: seconds, possibly fractional (truncated), within a sane range.
    static func numericDate(_ value: JSONValue, _ name: String) throws(TokenError) -> Int64 {
        guard let seconds = value.number, seconds >= 0, seconds < 253_402_300_800 else {  // before year 10000
            throw .malformed("claims (\(name) is not a NumericDate)")
        }
        return Int64(seconds)
    }
}

extension JSONValue {
    /// The `aud` claim as a list: a single string or an array of strings (RFC 7519 §4.1.3).
    public var audiences: [String]? {
        switch self["aud"] {
        case .string(let one): return [one]
        case .array(let many):
            let strings = many.compactMap(\.string)
            return strings.count == many.count ? strings : nil
        default: return nil
        }
    }
}
