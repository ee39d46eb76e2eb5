import PosternCrypto
import Testing
@testable import PosternIdentity

@Suite struct BearerAuthenticatorTests {
    static let now: Int64 = 1_800_000_100

    static func authenticator() throws -> BearerAuthenticator {
        let svid = try JWTSVIDValidator.init(bundles: [TrustDomain("example.org"): JWTSVIDValidatorTests.bundle(["p256"])],
                                             audience: "postern", leeway: 60, maxLifetime: 900)
        return BearerAuthenticator(jwtSVID: [svid], oidc: [])
    }

    @Test func routesJWTSVIDsByTheirSubjectsTrustDomain() throws {
        let (token, _) = JWTFixtures.tokens["ES256"]!
        let principal = try Self.authenticator().authenticate(Substring(token), now: Self.now)
        #expect(principal.source == .jwtSVID && principal.trustDomain?.name == "example.org")
    }

    @Test func noneAndHMACAreRefusedBeforeRouting() throws {
        let authenticator = try Self.authenticator()
        let header = b64url(#"{"alg":"none"}"#), claims = b64url(#"{"sub":"x"}"#)
        #expect(throws: TokenError.unsignedOrSymmetric("none")) {
            try authenticator.authenticate(Substring("\(header).\(claims)."), now: Self.now)
        }
    }

    @Test func withoutIssuersEveryTokenIsRefused() {
        let (token, _) = JWTFixtures.tokens["ES256"]!
        #expect(throws: TokenError.noTrustedIssuer) {
            try BearerAuthenticator(jwtSVID: [], oidc: []).authenticate(Substring(token), now: Self.now)
        }
    }
}

@Suite struct VerifiedTokenCacheTests {
    static let principal = Principal(id: "spiffe://example.org/a", source: .jwtSVID, expiry: 1000)

    @Test func holdsATokenOnlyWhileItIsValid() {
        var cache = VerifiedTokenCache(capacity: 8)
        #expect(cache.principal(for: "t", generation: 1, now: 900, leeway: 30) == nil)
        cache.insert("t", Self.principal, generation: 1, now: 900, leeway: 30)
        #expect(cache.principal(for: "t", generation: 1, now: 1030, leeway: 30) == Self.principal)
        #expect(cache.principal(for: "t", generation: 1, now: 1031, leeway: 30) == nil)
        #expect(cache.count == 0)
    }

    @Test func isKeyedByTheWholeTokenAndEmptiedOnReload() {
        var cache = VerifiedTokenCache(capacity: 8)
        _ = cache.principal(for: "x", generation: 1, now: 0, leeway: 0)
        cache.insert("header.claims.sig", Self.principal, generation: 1, now: 0, leeway: 0)
        #expect(cache.principal(for: "header.claims.sih", generation: 1, now: 0, leeway: 0) == nil)
        #expect(cache.principal(for: "header.claims", generation: 1, now: 0, leeway: 0) == nil)
        #expect(cache.principal(for: "header.claims.sig", generation: 2, now: 0, leeway: 0) == nil)
        #expect(cache.count == 0)
    }

    @Test func staysBounded() {
        var cache = VerifiedTokenCache(capacity: 16)
        _ = cache.principal(for: "", generation: 1, now: 0, leeway: 0)
        for i in 0..<1000 { cache.insert(Substring("token-\(i)"), Self.principal, generation: 1, now: 0, leeway: 0) }
        #expect(cache.count <= 16)
    }
}

@Suite struct Base64StandardTests {
    @Test func standardBase64WithPadding() {
        #expect(Base64URL.decodeStandard("aGk=") == Array("hi".utf8))
        #expect(Base64URL.decodeStandard("Pz8/") == Array("???".utf8))
        #expect(Base64URL.decodeStandard("+/+/") == [0xfb, 0xff, 0xbf])
        for bad in ["aGk", "aG=k", "-_-_", "aGk==", "a==="] { #expect(Base64URL.decodeStandard(bad) == nil) }
    }
}
