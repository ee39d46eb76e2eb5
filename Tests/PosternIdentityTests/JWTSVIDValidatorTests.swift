import PosternCrypto
import Testing
@testable import PosternIdentity

@Suite struct JWTSVIDValidatorTests {
    static let now: Int64 = 1_800_000_100  // the fixtures are valid from 1_800_000_000 for 300 s

    /// A SPIFFE JWT bundle holding the named fixture keys under kid "k1", plus an X.509 entry
    /// that must be skipped.
    static func bundle(_ keyNames: [String], kid: String = "k1") throws -> KeySet {
        let entries = keyNames.map { name in
            String(JWTFixtures.jwks[name]!.dropLast()) + #", "kid": "\#(kid)", "use": "jwt-svid"}"#
        } + [#"{"kty":"EC","crv":"P-256","use":"x509-svid","x5c":["AAAA"],"x":"AA","y":"AA"}"#]
        return try KeySet(jwks: Array(#"{"keys":[\#(entries.joined(separator: ","))],"spiffe_sequence":7}"#.utf8))
    }

    static func validator(_ bundles: [String: KeySet], audience: String = "postern") throws -> JWTSVIDValidator {
        var byDomain: [TrustDomain: KeySet] = [:]
        for (name, keys) in bundles { byDomain[try TrustDomain(name)] = keys }
        return JWTSVIDValidator(bundles: byDomain, audience: audience, leeway: 60, maxLifetime: 900)
    }

    @Test(arguments: ["RS256", "PS384", "ES256", "ES512"])
    func aValidJWTSVIDYieldsItsSPIFFEID(_ alg: String) throws {
        let (token, key) = JWTFixtures.tokens[alg]!
        let identity = try Self.validator(["example.org": Self.bundle([key])]).validate(token, now: Self.now)
        #expect(identity.id == "spiffe://example.org/ns/app/sa/web")
        #expect(identity.source == .jwtSVID && identity.trustDomain?.name == "example.org")
        #expect(identity.expiry == 1_800_000_300)
    }

    @Test func eachRuleHasItsOwnRefusal() throws {
        let es256 = JWTFixtures.tokens["ES256"]!.token
        let good = try Self.bundle(["p256"])
        // The subject's own trust domain must be trusted; another domain's bundle is no help.
        #expect(throws: TokenError.untrustedTrustDomain("example.org")) {
            try Self.validator(["other.org": good]).validate(es256, now: Self.now)
        }
        #expect(throws: TokenError.unknownKey("k1")) {
            try Self.validator(["example.org": Self.bundle(["p256"], kid: "k2")]).validate(es256, now: Self.now)
        }
        #expect(throws: TokenError.badSignature) {
            try Self.validator(["example.org": Self.bundle(["p256-other"])]).validate(es256, now: Self.now)
        }
        #expect(throws: TokenError.wrongAudience(expected: "someone-else")) {
            try Self.validator(["example.org": good], audience: "someone-else").validate(es256, now: Self.now)
        }
        #expect(throws: TokenError.expired(secondsAgo: 1000)) {
            try Self.validator(["example.org": good]).validate(es256, now: 1_800_001_300)
        }
        // EdDSA is valid for OIDC issuers only, never for JWT-SVIDs.
        #expect(throws: TokenError.algorithmNotAllowed("EdDSA")) {
            try Self.validator(["example.org": Self.bundle(["ed25519"])]).validate(JWTFixtures.tokens["EdDSA"]!.token, now: Self.now)
        }
    }

    @Test func theSubjectMustBeAWorkloadSPIFFEIDAndKidIsRequired() throws {
        let validator = try Self.validator(["example.org": Self.bundle(["p256"])])
        // Unsigned variants: these checks come before any signature is looked at.
        func unsigned(_ header: String, _ claims: String) -> String { "\(b64url(header)).\(b64url(claims)).c2ln" }
        #expect(throws: TokenError.malformed("header (a JWT-SVID needs kid)")) {
            try validator.validate(unsigned(#"{"alg":"ES256"}"#, #"{"sub":"spiffe://example.org/w","exp":1}"#), now: Self.now)
        }
        #expect(throws: TokenError.badSubject("a workload's SPIFFE ID has a path")) {
            try validator.validate(unsigned(#"{"alg":"ES256","kid":"k1"}"#, #"{"sub":"spiffe://example.org","exp":1}"#), now: Self.now)
        }
        #expect(throws: TokenError.badSubject(SPIFFEIDError.badTrustDomainCharacter("E").description)) {
            try validator.validate(unsigned(#"{"alg":"ES256","kid":"k1"}"#, #"{"sub":"spiffe://Example.org/w","exp":1}"#), now: Self.now)
        }
        #expect(throws: TokenError.malformed("claims (no sub)")) {
            try validator.validate(unsigned(#"{"alg":"ES256","kid":"k1"}"#, #"{"exp":1}"#), now: Self.now)
        }
    }

    @Test func keySetsRefuseBrokenDocumentsAndSkipWhatTheyCannotUse() throws {
        #expect(throws: JWKError.self) { try KeySet(jwks: Array(#"{"kys":[]}"#.utf8)) }
        #expect(throws: JWKError.self) { try KeySet(jwks: Array(#"{"keys":[{"kty":"RSA","n":"!!","e":"AQAB"}]}"#.utf8)) }
        // A published symmetric secret is refused loudly, not skipped.
        #expect(throws: JWKError.privateMaterial("k")) {
            try KeySet(jwks: Array(#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#.utf8))
        }
        // Encryption keys and curves Postern does not verify with are skipped.
        let mixed = try KeySet(jwks: Array(
            #"{"keys":[{"kty":"RSA","use":"enc","n":"AA","e":"AQAB"},{"kty":"EC","crv":"secp256k1","x":"AA","y":"AA"}]}"#.utf8))
        #expect(mixed.keys.isEmpty)
        #expect(try Self.bundle(["p256", "rsa2048"]).keys.count == 2)
    }

    @Test func aConfiguredIssuerMustMatchExactly() throws {
        let (token, key) = JWTFixtures.tokens["ES256"]!
        var validator = try Self.validator(["example.org": Self.bundle([key])])
        validator.issuer = "https://spire.example.org"
        #expect(throws: TokenError.wrongIssuer(expected: "https://spire.example.org")) {
            try validator.validate(token, now: Self.now)
        }
    }
}
