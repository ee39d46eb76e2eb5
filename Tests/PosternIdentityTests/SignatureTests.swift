import PosternJSON
import PosternCrypto
import Testing
@testable import PosternIdentity

@Suite struct SignatureTests {
    func key(_ name: String) throws -> PublicKey {
        try JWK.publicKey(JSONValue.parse(Array(JWTFixtures.jwks[name]!.utf8))!)
    }

    func jws(_ token: String) throws -> CompactJWS {
        try CompactJWS(token, allowed: Set(JWSAlgorithm.allCases))
    }

    @Test(arguments: FixtureAlgorithms.all)
    func everyAlgorithmVerifiesWithItsKey(_ alg: String) throws {
        let (token, keyName) = JWTFixtures.tokens[alg]!
        #expect(try jws(token).isSigned(by: key(keyName)))
    }

    @Test(arguments: FixtureAlgorithms.all)
    func aChangedPayloadOrSignatureFails(_ alg: String) throws {
        let (token, keyName) = JWTFixtures.tokens[alg]!
        let parts = token.split(separator: ".").map(String.init)
        // Same header and signature, claims of another subject.
        let forged = parts[0] + "." + b64url(#"{"sub":"spiffe://example.org/ns/admin","exp":1800000300}"#) + "." + parts[2]
        #expect(try !jws(forged).isSigned(by: key(keyName)))
        var signature = Base64URL.decode(parts[2])!
        signature[signature.count / 2] ^= 0x01
        #expect(try !jws(parts[0] + "." + parts[1] + "." + b64url(signature)).isSigned(by: key(keyName)))
    }

    @Test func keysOfTheWrongTypeOrCurveNeverVerify() throws {
        let es256 = try jws(JWTFixtures.tokens["ES256"]!.token)
        #expect(try !es256.isSigned(by: key("p256-other")))   // another key
        #expect(try !es256.isSigned(by: key("p384")))         // another curve
        #expect(try !es256.isSigned(by: key("rsa2048")))      // another type
        #expect(try !jws(JWTFixtures.tokens["RS256"]!.token).isSigned(by: key("ed25519")))
        // An RS256 signature presented as PS256 (header rewritten) fails too.
        let rs = JWTFixtures.tokens["RS256"]!.token.split(separator: ".").map(String.init)
        let relabelled = b64url(#"{"alg":"PS256","kid":"k1","typ":"JWT"}"#) + "." + rs[1] + "." + rs[2]
        #expect(try !jws(relabelled).isSigned(by: key("rsa2048")))
    }

    @Test func weakOrPrivateOrBrokenKeysAreRefused() throws {
        #expect(throws: JWKError.self) { try key("rsa1024") }
        var withPrivate = try #require(JSONValue.parse(Array(JWTFixtures.jwks["p256"]!.utf8)))
        if case .object(var members) = withPrivate {
            members["d"] = .string("AAAA")
            withPrivate = .object(members)
        }
        #expect(throws: JWKError.privateMaterial("d")) { try JWK.publicKey(withPrivate) }
        // A point that is not on the curve (y changed) is rejected by OpenSSL.
        var offCurve = try #require(JSONValue.parse(Array(JWTFixtures.jwks["p256"]!.utf8)))
        if case .object(var members) = offCurve, var y = Base64URL.decode(members["y"]!.string!) {
            y[31] ^= 0x01
            members["y"] = .string(b64url(y))
            offCurve = .object(members)
        }
        #expect(throws: JWKError.self) { try JWK.publicKey(offCurve) }
        #expect(throws: JWKError.unsupported("key type oct")) {
            try JWK.publicKey(JSONValue.parse(Array(#"{"kty":"oct"}"#.utf8))!)
        }
        #expect(throws: JWKError.unsupported("EC curve P-192")) {
            try JWK.publicKey(JSONValue.parse(Array(#"{"kty":"EC","crv":"P-192","x":"AA","y":"AA"}"#.utf8))!)
        }
    }

    @Test func malformedSignaturesAreFalseNotTraps() throws {
        let (token, keyName) = JWTFixtures.tokens["ES256"]!
        let parts = token.split(separator: ".").map(String.init)
        for signature in [[UInt8](), [0], [UInt8](repeating: 0, count: 64), [UInt8](repeating: 0xFF, count: 64),
                          [UInt8](repeating: 1, count: 63), [UInt8](repeating: 1, count: 65)] {
            let candidate = parts[0] + "." + parts[1] + "." + b64url(signature)
            if let parsed = try? jws(candidate) { #expect(try !parsed.isSigned(by: key(keyName))) }
        }
    }
}

enum FixtureAlgorithms {
    static let all = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
}
