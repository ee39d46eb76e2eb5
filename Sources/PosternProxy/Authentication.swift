#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import PosternCore
import PosternIdentity

/// The authenticate step: who is calling, from a bearer token or the connection's
/// X.509-SVID. A token, when sent, must be valid even on a connection with a client
/// certificate, and it names the caller (the certificate may be a proxy's).
enum CallerIdentity {
    case verified(Principal)
    case anonymous
    case refused(String)
}

extension LoopServices {
    func authenticate(_ headers: HeaderList, peer: Principal?) -> CallerIdentity {
        var authorization: String?
        for field in headers where field.name == "authorization" {
            guard authorization == nil else { return .refused("more than one authorization header") }
            authorization = field.value
        }
        let now = Self.epochSeconds()
        guard let authorization else {
            guard let peer else { return .anonymous }
            // A connection can outlive the certificate it was opened with.
            return now <= peer.expiry ? .verified(peer) : .refused("client certificate expired during the connection")
        }
        guard let token = Self.bearerToken(authorization) else {
            return .refused("authorization must be 'Bearer <token>': other schemes are standing credentials")
        }
        let credentials = self.credentials
        if let cached = verifiedTokens.principal(for: token, generation: credentials.generation, now: now,
                                                 leeway: credentials.leeway) {
            return .verified(cached)
        }
        do {
            let principal = try credentials.bearer.authenticate(token, now: now)
            verifiedTokens.insert(token, principal, generation: credentials.generation, now: now, leeway: credentials.leeway)
            return .verified(principal)
        } catch {
            return .refused(error.description)
        }
    }

    /// The token of `Bearer <token>` (scheme case-insensitive, RFC 9110 §11.1).
    static func bearerToken(_ value: String) -> Substring? {
        let trimmed = Substring(value).trimmingSpaces()
        guard trimmed.utf8.count > 7, trimmed.prefix(7).lowercased() == "bearer " else { return nil }
        let token = trimmed.dropFirst(7).trimmingSpaces()
        return token.isEmpty ? nil : token
    }

    static func epochSeconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }
}
