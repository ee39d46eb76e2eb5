import Testing
@testable import PosternIdentity

@Suite struct SPIFFEIDTests {
    @Test(arguments: [
        ("spiffe://trustdomain", "trustdomain", ""),
        ("spiffe://trustdomain/path", "trustdomain", "/path"),
        ("spiffe://trustdomain/path/element", "trustdomain", "/path/element"),
        ("spiffe://prod.example.org/ns/app/sa/frontend", "prod.example.org", "/ns/app/sa/frontend"),
        ("spiffe://a-b_c.9/P-a_t.h/UPPER/lower", "a-b_c.9", "/P-a_t.h/UPPER/lower"),
        ("spiffe://td/..a/a../.a./...", "td", "/..a/a../.a./..."),
    ])
    func validIDs(_ text: String, _ trustDomain: String, _ path: String) throws {
        let id = try SPIFFEID(text)
        #expect(id.trustDomain.name == trustDomain)
        #expect(id.path == path)
        #expect(id.description == text)
        #expect(id.isWorkload == !path.isEmpty)
    }

    @Test(arguments: [
        ("", SPIFFEIDError.empty),
        ("spiffe://", .missingTrustDomain),
        ("spiffe:///path", .missingTrustDomain),
        ("SPIFFE://trustdomain/path", .wrongScheme),
        ("Spiffe://trustdomain/path", .wrongScheme),
        ("http://trustdomain/path", .wrongScheme),
        ("spiffe:/trustdomain/path", .wrongScheme),
        ("spiffe:trustdomain/path", .wrongScheme),
        ("://trustdomain/path", .wrongScheme),
        ("trustdomain/path", .wrongScheme),
        (" spiffe://trustdomain/path", .wrongScheme),
        ("spiffe://Trustdomain/path", .badTrustDomainCharacter("T")),
        ("spiffe://trustdomain:8080/path", .badTrustDomainCharacter(":")),
        ("spiffe://user:pass@trustdomain/path", .badTrustDomainCharacter(":")),
        ("spiffe://user@trustdomain/path", .badTrustDomainCharacter("@")),
        ("spiffe://trust%20domain/path", .badTrustDomainCharacter("%")),
        ("spiffe://trust domain/path", .badTrustDomainCharacter(" ")),
        ("spiffe://trustdomain?q=1", .badTrustDomainCharacter("?")),
        ("spiffe://trustdomain#frag", .badTrustDomainCharacter("#")),
        ("spiffe://trustdomain/", .trailingSlash),
        ("spiffe://trustdomain/path/", .trailingSlash),
        ("spiffe://trustdomain//path", .emptySegment),
        ("spiffe://trustdomain/path//element", .emptySegment),
        ("spiffe://trustdomain/.", .dotSegment),
        ("spiffe://trustdomain/..", .dotSegment),
        ("spiffe://trustdomain/./path", .dotSegment),
        ("spiffe://trustdomain/path/../other", .dotSegment),
        ("spiffe://trustdomain/path/.", .dotSegment),
        ("spiffe://trustdomain/path?query=1", .badPathCharacter("?")),
        ("spiffe://trustdomain/path#fragment", .badPathCharacter("#")),
        ("spiffe://trustdomain/%41", .badPathCharacter("%")),
        ("spiffe://trustdomain/pa th", .badPathCharacter(" ")),
        ("spiffe://trustdomain/path\\x", .badPathCharacter("\\")),
        ("spiffe://trustdomain/p\u{0}", .badPathCharacter("\u{0}")),
    ])
    func invalidIDs(_ text: String, _ expected: SPIFFEIDError) {
        #expect(throws: expected) { try SPIFFEID(text) }
    }

    @Test func nonASCIIIsRefusedByteByByte() {
        #expect(throws: SPIFFEIDError.badTrustDomainCharacter(Character(Unicode.Scalar(0xC3)))) {
            try SPIFFEID("spiffe://tëst/path")
        }
        #expect(throws: SPIFFEIDError.badPathCharacter(Character(Unicode.Scalar(0xC3)))) {
            try SPIFFEID("spiffe://test/pâth")
        }
    }

    @Test func everyByteOutsideTheAllowedSetsIsRefused() throws {
        let trustDomainAllowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-_".utf8)
        let pathAllowed = trustDomainAllowed.union("ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8(1)...UInt8(0x7F) where byte != UInt8(ascii: "/") {
            let character = String(decoding: [byte], as: UTF8.self)
            let acceptedInTrustDomain = (try? SPIFFEID("spiffe://td\(character)x/path")) != nil
            let acceptedInPath = (try? SPIFFEID("spiffe://td/pa\(character)th")) != nil
            #expect(acceptedInTrustDomain == trustDomainAllowed.contains(byte), "byte \(byte) in trust domain")
            #expect(acceptedInPath == pathAllowed.contains(byte), "byte \(byte) in path")
        }
    }

    @Test func lengthLimits() throws {
        let longestTrustDomain = String(repeating: "a", count: 255)
        #expect(try SPIFFEID("spiffe://\(longestTrustDomain)/p").trustDomain.name.count == 255)
        #expect(throws: SPIFFEIDError.trustDomainTooLong(256)) {
            try SPIFFEID("spiffe://\(longestTrustDomain)a/p")
        }
        let prefix = "spiffe://td/"
        let longest = prefix + String(repeating: "x", count: 2048 - prefix.utf8.count)
        #expect(try SPIFFEID(longest).description.utf8.count == 2048)
        #expect(throws: SPIFFEIDError.tooLong(2049)) { try SPIFFEID(longest + "x") }
    }

    @Test func equalityIsTextualAndSegmentsSplit() throws {
        #expect(try SPIFFEID("spiffe://td/a/b") == SPIFFEID("spiffe://td/a/b"))
        #expect(try SPIFFEID("spiffe://td/a/B") != SPIFFEID("spiffe://td/a/b"))
        #expect(try SPIFFEID("spiffe://td/ns/app/sa/web").segments == ["ns", "app", "sa", "web"])
        #expect(try SPIFFEID("spiffe://td").segments.isEmpty)
    }

    @Test func bareTrustDomains() throws {
        #expect(try TrustDomain("prod.example.org").name == "prod.example.org")
        #expect(throws: SPIFFEIDError.missingTrustDomain) { try TrustDomain("") }
        #expect(throws: SPIFFEIDError.badTrustDomainCharacter(":")) { try TrustDomain("spiffe://x") }
    }

    @Test func messagesNameTheRule() {
        #expect(SPIFFEIDError.badTrustDomainCharacter(":").description.contains("':'"))
        #expect(SPIFFEIDError.badPathCharacter("\u{0}").description.contains("byte 0x0"))
        #expect(SPIFFEIDError.trailingSlash.description == "the path ends with '/'")
    }
}
