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
    /// Read on the bytes: a JWT is several hundred of them, and Character by Character
    /// this cost more than the cached token's lookup.
    static func bearerToken(_ value: String) -> Substring? {
        let found = value.withUTF8Bytes { bytes -> Range<Int>? in
            let field = withoutSpaces(bytes[...])
            guard field.count > scheme.count,
                  zip(field, scheme).allSatisfy({ ($0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0) == $1 }) else { return nil }
            let token = withoutSpaces(field.dropFirst(scheme.count))
            return token.isEmpty ? nil : token.startIndex..<token.endIndex
        }
        guard let found else { return nil }
        // The bounds sit next to ASCII bytes (spaces, the scheme), so on character boundaries.
        let utf8 = value.utf8
        return value[utf8.index(utf8.startIndex, offsetBy: found.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: found.upperBound)]
    }

    private static let scheme = Array("bearer ".utf8)

    private static func withoutSpaces(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Slice<UnsafeBufferPointer<UInt8>> {
        let space: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        var trimmed = bytes.drop(while: space)
        while let last = trimmed.last, space(last) { trimmed = trimmed.dropLast() }
        return trimmed
    }

    static func epochSeconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }
}
