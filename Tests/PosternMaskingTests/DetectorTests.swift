import Testing
import PosternConfig
@testable import PosternMasking

/// What the scanner finds in `text`, as (kind, matched text) pairs.
func found(_ text: String, keyHint: String? = nil) -> [(EntityKind, String)] {
    var copy = text
    return copy.withUTF8 { bytes in
        EntityScanner().scan(bytes, keyHint: keyHint).map { entity in
            (entity.kind, String(decoding: UnsafeBufferPointer(rebasing: bytes[entity.range]), as: UTF8.self))
        }
    }
}

func expectFound(_ text: String, _ kind: EntityKind, _ value: String, keyHint: String? = nil,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    let hits = found(text, keyHint: keyHint)
    #expect(hits.count == 1 && hits.first?.0 == kind && hits.first?.1 == value,
            "in \(text): \(hits)", sourceLocation: sourceLocation)
}

func expectClean(_ text: String, keyHint: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    let hits = found(text, keyHint: keyHint)
    #expect(hits.isEmpty, "in \(text): \(hits)", sourceLocation: sourceLocation)
}

@Suite struct CardNumberTests {
    @Test(arguments: [
        "4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444",
        "5105105105105100", "378282246310005", "3782 822463 10005", "6011111111111117", "6011000990139424",
        "3530111333300000", "30569309025904", "2223000048400011", "6200000000000005", "4012888888881881",
        "4222222222222",
    ])
    func validCardsAreFound(_ card: String) {
        expectFound("pay with \(card) today", .creditCard, card)
        expectFound("{\"card\":\"\(card)\"}", .creditCard, card)
        expectFound("card:\(card)", .creditCard, card)
    }

    @Test(arguments: [
        "4111111111111112",          // Luhn fails
        "1234567812345678",          // no issuer starts with 1
        "1700000000000",             // a millisecond timestamp
        "1700000000123456",          // a microsecond timestamp
        "41111111111111111111",      // too long
        "order 9111111111111111",    // no issuer starts with 9
        "4111111111111111.5",        // a decimal
        "ORD-4111111111111111",      // inside an id
        "411111111111",              // too short
        "0.4111111111111111",
    ])
    func lookAlikesAreNotCards(_ text: String) {
        expectClean(text)
    }

    @Test func aCardFollowedByMoreDigitGroupsIsStillFound() {
        expectFound("4111 1111 1111 1111 2024", .creditCard, "4111 1111 1111 1111")
    }
}

@Suite struct SSNTests {
    @Test(arguments: ["123-45-6789", "078-05-1120", "123 45 6789", "899-99-9999"])
    func formattedSSNs(_ ssn: String) {
        expectFound("SSN: \(ssn).", .usSSN, ssn)
    }

    @Test(arguments: ["000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456", "123-00-4567", "123-45-0000",
                      "123-45-67890", "2023-11-22", "12-345-6789", "123-456-789",
                      "123-45-6789-0123", "123 45 6789 0123"])
    func invalidSSNsAreNotSSNs(_ text: String) {
        expectClean(text)
    }

    @Test func nineDigitsOnlyWhereTheContextSaysSSN() {
        expectFound("123456789", .usSSN, "123456789", keyHint: "ssn")
        expectFound("social security number 123456789", .usSSN, "123456789")
        expectClean("order 123456789")
        expectClean("666456789", keyHint: "ssn")
        expectFound("ssn:123-45-6789", .usSSN, "123-45-6789")
        expectFound("SSN 123-45-6789 1777067189215", .usSSN, "123-45-6789")
    }
}

@Suite struct EmailTests {
    @Test(arguments: ["alice@example.com", "first.last+tag@mail.example.co.uk", "x_y-z%1@sub-domain.example.io",
                      "a@b.cd", "josé.garcía@ejemplo.es", "用户@例子.广告", "ANN.LEE@EXAMPLE.COM"])
    func emails(_ email: String) {
        expectFound("write to <\(email)>.", .email, email)
        expectFound("mailto:\(email)", .email, email)
    }

    @Test func anAddressIsNeverCutInsideACharacter() {
        let local = String(repeating: "é", count: 40)  // 80 bytes: longer than the 64 looked back
        let hits = found("\(local)@example.com")
        #expect(hits.count == 1 && hits[0].1.hasSuffix("é@example.com") && hits[0].1.unicodeScalars.allSatisfy { $0 != "\u{FFFD}" })
    }

    @Test(arguments: ["user@localhost", "@example.com", "a@.com", "a@b.c", "version 1.2@3", "me@example.c0m",
                      "name@", "a..@"])
    func notEmails(_ text: String) {
        expectClean(text)
    }
}

@Suite struct PhoneTests {
    @Test(arguments: ["+14155552671", "+1 415 555 2671", "+44 20 7946 0958", "+49 30 1234567", "+33 1 23 45 67 89",
                      "(415) 555-2671", "415-555-2671", "415.555.2671", "1-800-555-0199", "020 7946 0958",
                      "+1 (415) 555-2671", "01 23 45 67 89", "06.12.34.56.78", "(030) 1234567", "(02) 9876 5432",
                      "0412 345 678", "+44 (0)20 7946 0958", "(415)555-2671", "02 9876 5432", "06-1234-5678"])
    func phones(_ phone: String) {
        expectFound("call \(phone) now", .phone, phone)
        expectFound("tel:\(phone)", .phone, phone)
    }

    /// National numbers without the international prefix, as people in each region write
    /// them, valid in its numbering plan.
    @Test(arguments: ["030 12345678", "0151 23456789", "079 123 45 67", "070-123 45 67", "612 34 56 78", "912 345 678",
                      "(11) 91234-5678", "9123 4567", "98765 43210", "03-1234-5678", "090-1234-5678", "06 1234 5678",
                      "312 345 6789", "06-12345678", "55 1234 5678", "0412 345 678", "021 123 4567", "087 123 4567"])
    func nationalNumbers(_ phone: String) {
        expectFound("call \(phone) now", .phone, phone)
        expectFound("\(phone).", .phone, phone)
    }

    /// Digit groups in the shapes of those numbers that no plan allows, or that are dates,
    /// prices and ids.
    @Test(arguments: ["1.299.000", "1 299 000", "05.12.2023", "2025-05-01 10:30:00", "2023-12-05", "123 456",
                      "12 345", "2024 1234 5678", "123-45-6789x", "1234 5678", "112 34 56 78", "0.12 3456 7890",
                      "v 612 34 56 78 90", "612.345.678", "10.0.19041.1", "0577-0300-2636", "0448-4579-3152-11"])
    func nationalLookAlikes(_ text: String) {
        expectClean(text)
    }

    @Test func theRegionsAreThePolicysChoice() {
        let spain = EntityScanner(phonePlans: PhonePlan.named(["es"]).plans)
        let germany = EntityScanner(phonePlans: PhonePlan.named(["DE"]).plans)
        let spanish = Array("llame al 612 34 56 78 hoy".utf8)
        #expect(spanish.withUnsafeBufferPointer { spain.scan($0).map(\.kind) } == [.phone])
        #expect(spanish.withUnsafeBufferPointer { germany.scan($0) }.isEmpty)
        #expect(PhonePlan.named(["ES", "XX"]).unknown == ["XX"])
        // Poland writes 123 456 789: known, but not a default region.
        #expect(PhonePlan.regions.contains("PL") && !PhonePlan.defaults.contains { $0.region == "PL" })
        var settings = MaskingSettings(name: "p")
        settings.phoneRegions = ["all"]
        #expect((try? MaskingPolicy.build(settings).get())?.scanner.phonePlans.count == PhonePlan.all.count)
        settings.phoneRegions = ["DE", "Atlantis"]
        guard case .failure(let error) = MaskingPolicy.build(settings) else { Issue.record("accepted Atlantis"); return }
        #expect(error.message.contains("phone_regions: no numbering plan for Atlantis"))
    }

    @Test func bareDigitsOnlyWhereTheContextSaysPhone() {
        expectFound("4155552671", .phone, "4155552671", keyHint: "mobilePhone")
        expectFound("14155552671", .phone, "14155552671", keyHint: "phone_number")
        expectFound("phone: 4155552671", .phone, "4155552671")
        expectClean("order 4155552671")
        expectClean("4155552671", keyHint: "order_id")
    }

    @Test func aNumberAfterAPhoneNumberIsNotPartOfIt() {
        expectFound("phone: 02 76 57 53 31 172 units", .phone, "02 76 57 53 31")
        expectFound("020 7946 0958 1234", .phone, "020 7946 0958")
        expectClean("06-1234-5678-9999")
    }

    @Test func anExtensionIsNotPartOfTheNumber() {
        expectFound("415-555-2671x123", .phone, "415-555-2671")
        expectFound("+1 415 555 2671x9", .phone, "+1 415 555 2671")
        expectClean("415-555-2671xyz")
    }

    @Test(arguments: ["2023-11-22", "12:30:45", "v1.2.3", "order 12345678", "+1 23", "415-555-26710",
                      "1700000000", "555-1234", "3.14159265", "0.123 456 789", "+0 123 456 789",
                      "05/01/2023", "01.05.2022", "01 23 45", "(0) 123", "001 23 45 67 89", "(030) 12",
                      "3797 038281 74595", "12 415 555 2671"])
    func notPhones(_ text: String) {
        expectClean(text)
    }
}

@Suite struct IBANTests {
    @Test(arguments: ["GB82WEST12345698765432", "GB82 WEST 1234 5698 7654 32", "DE89370400440532013000",
                      "FR1420041010050500013M02606", "NL91ABNA0417164300", "NO9386011117947"])
    func ibans(_ iban: String) {
        expectFound("IBAN \(iban) ok", .iban, iban)
    }

    @Test(arguments: ["GB82WEST12345698765431", "GB82WEST1234569876543", "XX82WEST12345698765432", "DE8937040044053201300"])
    func notIBANs(_ text: String) {
        expectClean(text)
    }
}

@Suite struct IPAddressTests {
    @Test(arguments: ["192.168.1.10", "10.0.0.1", "8.8.8.8", "255.255.255.255", "2001:db8::1", "fe80::1ff:fe23:4567:890a",
                      "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "::ffff:192.0.2.128", "::1"])
    func addresses(_ ip: String) {
        expectFound("from \(ip) at noon", .ipAddress, ip)
    }

    @Test(arguments: ["256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "12:30:45", "00:1A:2B:3C:4D:5E", "std::vector",
                      "v1.2.3.4", "10.0.19041.1", "2023-11-22T10:00:00Z", "1:2:3:4:5:6:7:8:9", "version 2.0.1.3",
                      "build: 10.2.0.1", "1.2.3.4-beta", "Version=4.2.1.0", "Vec::add", "::"])
    func notAddresses(_ text: String) {
        expectClean(text)
    }
}

@Suite struct SecretTests {
    @Test(arguments: [
        ("AKIAIOSFODNN7EXAMPLE", EntityKind.awsKey), ("ASIAY34FZKBOKMUTVV7A", .awsKey),
        ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", .githubToken),
        ("github_pat_11ABCDEFG0123456789abc_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW", .githubToken),
        ("xoxb-2048-4096-abcdefABCDEF123456", .slackToken),
        ("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", .slackToken),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", .jwt),
    ])
    func secrets(_ secret: String, _ kind: EntityKind) {
        expectFound("token=\(secret) end", kind, secret)
    }

    @Test(arguments: ["AKIA1234", "AKIAIOSFODNN7EXAMPLEX", "ghp_short", "xoxb-1", "eyJhbGciOi", "MYAKIAIOSFODNN7EXAMPLE"])
    func notSecrets(_ text: String) {
        expectClean(text)
    }

    @Test(arguments: ["RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY"])
    func privateKeysInEveryEncoding(_ label: String) {
        let pem = "-----BEGIN \(label)-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nAAAA\n-----END \(label)-----"
        expectFound("key:\n\(pem)\nthanks", .privateKey, pem)
        // As a JSON-escaped string inside a tool call's arguments.
        let escaped = pem.replacingNewlines()
        expectFound("{\"key\": \"\(escaped)\"}", .privateKey, escaped)
    }

    @Test func aTruncatedKeyIsMaskedToTheEnd() {
        expectFound("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN", .privateKey, "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN")
        expectClean("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
    }
}

@Suite struct LookAlikeTests {
    @Test(arguments: ["550e8400-e29b-41d4-a716-446655440000", "2024-01-15T10:30:00.000Z", "1700000000", "v2.14.3",
                      "ORD-2024-000123", "order #48213", "build 1.2.3-rc.1", "sha256:9f86d081884c7d659a2feaa0c55ad015",
                      "price 1234.56", "chatcmpl-8aBcD3eFgH", "id 12345678901234567890", "created 1715000000123"])
    func ordinaryValuesAreLeftAlone(_ text: String) {
        expectClean(text)
    }
}

/// The scanner skips plain prose sixteen bytes at a time; a value is found wherever it falls
/// against those steps, and numbers too short to be a value never match.
@Suite struct ScanStepTests {
    static let values: [(String, EntityKind)] = [
        ("4111 1111 1111 1111", .creditCard), ("ann@example.com", .email), ("AKIAIOSFODNN7EXAMPLE", .awsKey),
        ("ghp_" + String(repeating: "a1B2", count: 9), .githubToken), ("xoxb-1234567890-abcdefghij", .slackToken),
        ("fe80::1ff:fe23:4567:890a", .ipAddress), ("+44 20 7946 0958", .phone), ("GB82 WEST 1234 5698 7654 32", .iban),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", .jwt),
    ]

    @Test func aValueIsFoundWhereverItFallsInProse() {
        for (value, kind) in Self.values {
            for offset in 0..<40 {
                let before = String(repeating: "plain words ", count: 4).prefix(offset)
                let text = before + (before.last.map { $0 == " " } ?? true ? "" : " ") + value + " and more words after it"
                expectFound(text, kind, value)
            }
        }
    }

    /// (Seven and eight digits can be an SSN that lost its leading zeros: see JSONMaskerTests.)
    @Test(arguments: ["123456", "-12345", "1.2345", "9.9e+9", "-0.123", "654321"])
    func numbersShorterThanTheShortestValueHoldNone(_ number: String) throws {
        #expect(number.utf8.count < EntityScanner.shortestBareNumber)
        expectClean(number, keyHint: "ssn")
        expectClean(number, keyHint: "phone")
        #expect(try maskJSON(#"{"ssn":\#(number),"phone":\#(number)}"#) == #"{"ssn":\#(number),"phone":\#(number)}"#)
    }

    @Test func operatorPatternsStillSeeShortNumbers() throws {
        let policy = MaskingPolicy(patterns: [try CustomPattern(name: "answer", pattern: "^42$")])
        #expect(try maskJSON(#"{"a":42,"b":"42","c":421}"#, policy) == #"{"a":"[ANSWER]","b":"[ANSWER]","c":421}"#)
    }
}

extension String {
    func replacingNewlines() -> String { split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\n") }
}

@Suite struct CustomPatternTests {
    @Test func operatorPatternsMaskWhatBuiltInsDoNot() throws {
        let policy = MaskingPolicy(patterns: [try CustomPattern(name: "employee_id", pattern: "EMP-[0-9]{6}"),
                                              try CustomPattern(name: "ticket", pattern: "TKT#\\d+", action: .partial(keep: 2))])
        #expect(policy.mask("Ask EMP-123456 about TKT#9981 or ann@example.com")
                == "Ask [EMPLOYEE_ID] about ***#**81 or [EMAIL]")
        #expect(policy.mask("EMP-12 is not one") == "EMP-12 is not one")
        #expect(try maskJSON(#"{"owner":"EMP-000042","n":"ünïcode EMP-000043"}"#, policy)
                == #"{"owner":"[EMPLOYEE_ID]","n":"ünïcode [EMPLOYEE_ID]"}"#)
    }

    @Test func aBadPatternIsAnError() {
        #expect(throws: MaskingError.self) { try CustomPattern(name: "x", pattern: "([unclosed") }
    }
}
