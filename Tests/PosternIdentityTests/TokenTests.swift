import PosternCrypto
import PosternJSON
import Testing
@testable import PosternIdentity

/// Base64url without padding, for building test tokens.
func b64url(_ text: String) -> String { b64url(Array(text.utf8)) }
func b64url(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    var out = ""
    var index = 0
    while index < bytes.count {
        let chunk = Array(bytes[index..<min(index + 3, bytes.count)])
        let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
        for position in 0...chunk.count { out.append(alphabet[Int(value >> (18 - 6 * UInt32(position)) & 0x3F)]) }
        index += 3
    }
    return out
}

func token(header: String, claims: String = #"{"sub":"x","exp":2000}"#, signature: String = "c2ln") -> String {
    "\(b64url(header)).\(b64url(claims)).\(signature)"
}

@Suite struct Base64URLTests {
    @Test(arguments: [("", ""), ("Zg", "f"), ("Zm8", "fo"), ("Zm9v", "foo"), ("Zm9vYg", "foob"), ("_-8", "\u{FF}\u{EF}")])
    func decodesUnpadded(_ encoded: String, _ decoded: String) {
        let expected = decoded.unicodeScalars.map { UInt8($0.value) }
        #expect(Base64URL.decode(encoded) == expected)
        #expect(b64url(expected) == encoded)
    }

    @Test(arguments: ["Zg==", "Z", "Zh", "Zm9v+", "Zm9v/", "Zm 9v", "Zm9v\n"])
    func refusesAnythingNotCanonical(_ encoded: String) {
        #expect(Base64URL.decode(encoded) == nil)
    }
}

@Suite struct JSONValueTests {
    func parse(_ text: String) -> JSONValue? { JSONValue.parse(Array(text.utf8)) }

    @Test func readsTheDocumentsTokensCarry() {
        let value = parse(#" {"a": [1, -2.5e1, true, false, null], "b": {"c": "d\"\\\/\n\u0041\ud83d\ude00"}} "#)
        #expect(value?["a"] == .array([.number(1), .number(-25), .bool(true), .bool(false), .null]))
        #expect(value?["b"]?["c"]?.string == "d\"\\/\nA😀")
        #expect(parse("\"caf\u{E9}\"")?.string == "café")
    }

    @Test(arguments: [
        #"{"a":1,}"#, #"[1,]"#, #"{"a":1,"a":2}"#, #"{a:1}"#, #"{"a" 1}"#, "01", "1.", ".5", "-", "1e",
        #""\ud800""#, #""\udc00x""#, "\"tab\there\"", #""\x41""#, "tru", "nul", "[1] 2", "", "{",
        "\"unterminated",
        "NaN", "Infinity", "1e999",
    ])
    func refusesWhatIsNotStrictJSON(_ text: String) {
        #expect(parse(text) == nil, "\(text)")
    }

    @Test func refusesInvalidUTF8AndDeepNesting() {
        #expect(JSONValue.parse([UInt8(ascii: "\""), 0xC3, 0x28, UInt8(ascii: "\"")]) == nil)
        #expect(parse(String(repeating: "[", count: 40) + String(repeating: "]", count: 40)) == nil)
        #expect(parse(String(repeating: "[", count: 20) + String(repeating: "]", count: 20)) != nil)
    }
}

@Suite struct CompactJWSTests {
    @Test(arguments: ["none", "NONE", "None", "HS256", "HS384", "HS512", "hs256"])
    func unsignedAndSymmetricAlgorithmsAreRefusedFirst(_ alg: String) {
        // Even with claims that would not parse: the algorithm is refused before anything else.
        let refused = "\(b64url(#"{"alg":"\#(alg)"}"#)).not-json.\(b64url("sig"))"
        #expect(throws: TokenError.unsignedOrSymmetric(alg)) { try CompactJWS(refused, allowed: JWSAlgorithm.jwtSVID) }
    }

    @Test func decodesASignedToken() throws {
        let jws = try CompactJWS(token(header: #"{"alg":"ES256","kid":"k1","typ":"JWT"}"#), allowed: JWSAlgorithm.jwtSVID)
        #expect(jws.algorithm == .es256 && jws.keyID == "k1")
        #expect(jws.claims["sub"]?.string == "x")
        #expect(jws.signature == Array("sig".utf8))
        let parts = token(header: #"{"alg":"ES256","kid":"k1","typ":"JWT"}"#).split(separator: ".")
        #expect(jws.signingInput == Array("\(parts[0]).\(parts[1])".utf8))
    }

    @Test(arguments: [("JWT", true), ("jwt", true), ("JOSE", true), ("application/json", false), ("at+jwt", false)])
    func typeMustBeJWTWhenPresent(_ typ: String, _ accepted: Bool) {
        let result = Result { () throws(TokenError) in
            try CompactJWS(token(header: #"{"alg":"RS256","typ":"\#(typ)"}"#), allowed: JWSAlgorithm.jwtSVID)
        }
        if accepted { #expect((try? result.get()) != nil) } else { #expect(throws: TokenError.wrongType(typ)) { try result.get() } }
    }

    @Test func algorithmsOutsideTheAllowListAreRefused() {
        #expect(throws: TokenError.algorithmNotAllowed("EdDSA")) {
            try CompactJWS(token(header: #"{"alg":"EdDSA"}"#), allowed: JWSAlgorithm.jwtSVID)
        }
        #expect(throws: TokenError.algorithmNotAllowed("RS1")) {
            try CompactJWS(token(header: #"{"alg":"RS1"}"#), allowed: Set(JWSAlgorithm.allCases))
        }
        #expect((try? CompactJWS(token(header: #"{"alg":"EdDSA"}"#), allowed: [.edDSA])) != nil)
    }

    @Test(arguments: [
        ("a.b", TokenError.notCompactJWS), ("a.b.c.d", .notCompactJWS), ("..", .notCompactJWS),
        ("\(b64url(#"{"alg":"RS256"}"#)).\(b64url("{}"))." , .malformed("signature (empty)")),
        ("\(b64url(#"{"alg":"none"}"#)).\(b64url("{}"))." , .unsignedOrSymmetric("none")),
        ("e30.e30.c2ln", .malformed("header (no alg)")),
        ("\(b64url("[1]")).e30.c2ln", .malformed("header")),
        ("\(b64url(#"{"alg":"RS256","crit":["exp"]}"#)).e30.c2ln", .malformed("header (crit extensions are not supported)")),
        ("\(b64url(#"{"alg":"RS256","kid":7}"#)).e30.c2ln", .malformed("header (kid is not a string)")),
        ("\(b64url(#"{"alg":"RS256"}"#)).\(b64url("[]")).c2ln", .malformed("claims")),
        ("\(b64url(#"{"alg":"RS256"}"#)).e30.c2ln=", .malformed("signature")),
    ])
    func malformedTokensSayWhichPart(_ text: String, _ expected: TokenError) {
        #expect(throws: expected) { try CompactJWS(text, allowed: JWSAlgorithm.jwtSVID) }
    }

    @Test func oversizedTokensAreRefusedBeforeDecoding() {
        let huge = String(repeating: "a", count: CompactJWS.maxLength + 1)
        #expect(throws: TokenError.tooLarge(CompactJWS.maxLength + 1)) { try CompactJWS(huge, allowed: JWSAlgorithm.jwtSVID) }
    }
}

@Suite struct TokenTimesTests {
    func times(_ claims: String) throws(TokenError) -> TokenTimes {
        try TokenTimes(claims: JSONValue.parse(Array(claims.utf8))!)
    }

    @Test func aTokenWithoutExpiryIsAStandingCredential() {
        #expect(throws: TokenError.missingExpiry) { try times(#"{"sub":"x"}"#) }
        #expect(TokenError.missingExpiry.description.contains("standing credential"))
    }

    @Test func lifetimeBeyondTheMaximumIsAStandingCredentialEvenWhileValid() throws {
        let now: Int64 = 1_000_000
        let longLived = try times(#"{"iat":\#(now - 10),"exp":\#(now + 86_400)}"#)
        #expect(throws: TokenError.standingCredential(lifetimeSeconds: 86_410, maxSeconds: 900)) {
            try longLived.check(now: now, leeway: 60, maxLifetime: 900)
        }
        let shortLived = try times(#"{"iat":\#(now - 10),"exp":\#(now + 290)}"#)
        try shortLived.check(now: now, leeway: 60, maxLifetime: 900)
        // Without iat, what is left of the validity counts.
        #expect(throws: TokenError.standingCredential(lifetimeSeconds: 5000, maxSeconds: 900)) {
            try times(#"{"exp":\#(now + 5000)}"#).check(now: now, leeway: 60, maxLifetime: 900)
        }
    }

    @Test func expiryNotBeforeAndIssuedAtWithLeeway() throws {
        let now: Int64 = 1_000_000
        #expect(throws: TokenError.expired(secondsAgo: 61)) {
            try times(#"{"iat":\#(now - 300),"exp":\#(now - 61)}"#).check(now: now, leeway: 60, maxLifetime: 900)
        }
        try times(#"{"iat":\#(now - 300),"exp":\#(now - 59)}"#).check(now: now, leeway: 60, maxLifetime: 900)
        #expect(throws: TokenError.notYetValid(inSeconds: 120)) {
            try times(#"{"nbf":\#(now + 120),"exp":\#(now + 600)}"#).check(now: now, leeway: 60, maxLifetime: 900)
        }
        #expect(throws: TokenError.issuedInTheFuture(inSeconds: 100)) {
            try times(#"{"iat":\#(now + 100),"exp":\#(now + 600)}"#).check(now: now, leeway: 60, maxLifetime: 900)
        }
        #expect(try times(#"{"exp":1000.9}"#).expiry == 1000)
    }

    @Test(arguments: [#"{"exp":"1000"}"#, #"{"exp":-1}"#, #"{"exp":1e20}"#, #"{"exp":1,"nbf":true}"#, #"{"exp":1,"iat":null}"#])
    func datesMustBeNumericDates(_ claims: String) {
        #expect(throws: TokenError.self) { try times(claims) }
    }

    @Test func audiencesAreAStringOrAListOfStrings() {
        #expect(JSONValue.parse(Array(#"{"aud":"a"}"#.utf8))?.audiences == ["a"])
        #expect(JSONValue.parse(Array(#"{"aud":["a","b"]}"#.utf8))?.audiences == ["a", "b"])
        #expect(JSONValue.parse(Array(#"{"aud":["a",1]}"#.utf8))?.audiences == nil)
        #expect(JSONValue.parse(Array(#"{}"#.utf8))?.audiences == nil)
    }
}
