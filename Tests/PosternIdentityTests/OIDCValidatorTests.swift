import PosternCrypto
import Testing
@testable import PosternIdentity

@Suite struct OIDCValidatorTests {
    static let now: Int64 = 1_800_000_100

    static func issuerKeys(_ names: [String]) throws -> KeySet {
        let entries = names.map { String(JWTFixtures.jwks[$0]!.dropLast()) + #", "kid": "k1", "use": "sig"}"# }
        return try KeySet(jwks: Array(#"{"keys":[\#(entries.joined(separator: ","))]}"#.utf8))
    }

    static func validator(claim: String = "sub", keys: [String] = ["rsa2048", "ed25519"]) throws -> OIDCValidator {
        try OIDCValidator(issuer: "https://idp.example.com", audience: "postern", keys: issuerKeys(keys),
                          identityClaim: claim, leeway: 60, maxLifetime: 900)
    }

    @Test(arguments: ["oidc-RS256", "oidc-EdDSA"])
    func aValidTokenYieldsTheConfiguredClaim(_ name: String) throws {
        let token = JWTFixtures.tokens[name]!.token
        let bySubject = try Self.validator().validate(token, now: Self.now)
        #expect(bySubject == Principal(id: "user-123", source: .oidc, issuer: "https://idp.example.com",
                                       expiry: 1_800_000_300, credentialID: "t-1"))
        #expect(try Self.validator(claim: "email").validate(token, now: Self.now).id == "alice@example.com")
    }

    @Test func refusals() throws {
        let validator = try Self.validator()
        #expect(throws: TokenError.wrongIssuer(expected: "https://idp.example.com")) {
            try validator.validate(JWTFixtures.tokens["oidc-other-issuer"]!.token, now: Self.now)
        }
        #expect(throws: TokenError.standingCredential(lifetimeSeconds: 86_400, maxSeconds: 900)) {
            try validator.validate(JWTFixtures.tokens["oidc-day-long"]!.token, now: Self.now)
        }
        #expect(throws: TokenError.badSignature) {
            try Self.validator(keys: ["p256"]).validate(JWTFixtures.tokens["oidc-RS256"]!.token, now: Self.now)
        }
        #expect(throws: TokenError.malformed("claims (no string 'groups' to identify the caller)")) {
            try Self.validator(claim: "groups").validate(JWTFixtures.tokens["oidc-RS256"]!.token, now: Self.now)
        }
        // A JWT-SVID (no iss) is not an OIDC token of this issuer.
        #expect(throws: TokenError.wrongIssuer(expected: "https://idp.example.com")) {
            try validator.validate(JWTFixtures.tokens["RS256"]!.token, now: Self.now)
        }
    }
}
