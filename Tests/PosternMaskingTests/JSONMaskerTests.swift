import Testing
@testable import PosternMasking

func maskJSON(_ text: String, _ policy: MaskingPolicy = MaskingPolicy()) throws -> String {
    String(decoding: try JSONMasker.mask(Array(text.utf8), policy: policy), as: UTF8.self)
}

/// Feeds `text` in chunks split at `cuts` and returns the concatenated output.
func maskJSON(_ text: String, cuts: [Int], _ policy: MaskingPolicy = MaskingPolicy()) throws -> String {
    try maskInChunks(text, cuts: cuts, .json(JSONMasker(policy: policy)))
}

/// Feeds `text` to `masker` in chunks split at `cuts`; the concatenated output.
func maskInChunks(_ text: String, cuts: [Int], _ masker: ResponseMasker) throws -> String {
    let bytes = Array(text.utf8)
    var out: [UInt8] = []
    var start = 0
    for cut in cuts.map({ min($0, bytes.count) }) + [bytes.count] where cut >= start {
        out += try masker.feed(Array(bytes[start..<cut]))
        start = cut
    }
    out += try masker.finish()
    return String(decoding: out, as: UTF8.self)
}

@Suite struct JSONMaskerTests {
    static let chat = #"""
    {"id":"chatcmpl-1","object":"chat.completion","created":1715000000,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Mail alice@example.com or call +1 415 555 2671; card 4111 1111 1111 1111.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"pay","arguments":"{\"card\": \"4111111111111111\", \"note\": \"ssn 123-45-6789\"}"}}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":12}}
    """#

    @Test func masksAChatCompletionAndKeepsEverythingElse() throws {
        let masked = try maskJSON(Self.chat)
        #expect(masked.contains(#""content":"Mail [EMAIL] or call [PHONE]; card [CREDIT_CARD].""#))
        #expect(masked.contains(#""arguments":"{\"card\": \"[CREDIT_CARD]\", \"note\": \"ssn [US_SSN]\"}""#))
        #expect(masked.contains(#""created":1715000000"#) && masked.contains(#""id":"chatcmpl-1""#))
        #expect(masked.contains(#""usage":{"prompt_tokens":9,"completion_tokens":12}"#))
    }

    @Test func unchangedDocumentsPassByteForByte() throws {
        let text = #"{ "a" : [1, 2.5e3, -0.5, true, false, null, "x\u00e9\n\"y\"", {"b": {}}, []] }"#
        #expect(try maskJSON(text) == text)
    }

    @Test func escapesAreDecodedBeforeDetection() throws {
        #expect(try maskJSON(#"{"to":"alice\u0040example.com"}"#) == #"{"to":"[EMAIL]"}"#)
        #expect(try maskJSON(#"["4111\u00201111 1111 1111"]"#) == #"["[CREDIT_CARD]"]"#)
    }

    @Test func numbersThatAreCardNumbersAreCaught() throws {
        #expect(try maskJSON(#"{"pan":4111111111111111,"order":1234567890123456,"n":4111111111111112}"#)
                == #"{"pan":"[CREDIT_CARD]","order":1234567890123456,"n":4111111111111112}"#)
    }

    /// Numbers under a name that says what they are, with no field rule: phones, SSNs (also
    /// with the leading zeros a number drops) and cards become strings; the same digits under
    /// other names stay numbers.
    @Test(arguments: [
        (#"{"phone":4155552671}"#, #"{"phone":"[PHONE]"}"#),
        (#"{"mobilePhone":447911123456}"#, #"{"mobilePhone":"[PHONE]"}"#),
        (#"{"tel":14155552671}"#, #"{"tel":"[PHONE]"}"#),
        (#"{"ssn":123456789}"#, #"{"ssn":"[US_SSN]"}"#),
        (#"{"social_security_number":78051120}"#, #"{"social_security_number":"[US_SSN]"}"#),
        (#"{"ssn":"7805112"}"#, #"{"ssn":"[US_SSN]"}"#),
        (#"{"card":4111111111111111}"#, #"{"card":"[CREDIT_CARD]"}"#),
        (#"{"phones":[4155552671,"4155552672"]}"#, #"{"phones":["[PHONE]","[PHONE]"]}"#),
        (#"{"hotel_id":4155552671,"order_id":123456789,"count":78051120,"ssn":10002345}"#,
         #"{"hotel_id":4155552671,"order_id":123456789,"count":78051120,"ssn":10002345}"#),
    ])
    func numbersUnderTheirNamesAreMasked(_ document: String, _ expected: String) throws {
        #expect(try maskJSON(document) == expected)
    }

    @Test(arguments: ["SSN 123456789", "ssn:123456789", "SS# 123456789", "Social: 123456789", "her social is 123456789",
                      "Social Security Number 123456789", "SOCIAL SECURITY 123456789"])
    func nineDigitsAfterTheWaysTextNamesAnSSNAreOne(_ text: String) {
        #expect(MaskingPolicy().mask(text).hasSuffix("[US_SSN]"), "\(text)")
    }

    @Test func fieldRulesByKeyAndPath() throws {
        let policy = MaskingPolicy(fields: [
            FieldRule(.key("password"), action: .redact),
            FieldRule(.key("secret"), action: .drop),
            FieldRule(.path(FieldRule.parsePath("$.items[*].note")!), action: .partial(keep: 2)),
        ])
        let text = #"{"user":{"Password":"hunter2","secret":{"a":[1,2]},"keep":1},"items":[{"note":"abcdef"},{"note":7}],"note":"x"}"#
        #expect(try maskJSON(text, policy)
                == #"{"user":{"Password":"[PASSWORD]","keep":1},"items":[{"note":"****ef"},{"note":"7"}],"note":"x"}"#)
    }

    @Test func droppingKeepsTheDocumentValid() throws {
        let policy = MaskingPolicy(actions: [.email: .drop])
        #expect(try maskJSON(#"{"a":"x@example.com","b":1}"#, policy) == #"{"b":1}"#)
        #expect(try maskJSON(#"{"b":1,"a":"x@example.com"}"#, policy) == #"{"b":1}"#)
        #expect(try maskJSON(#"{"a":"x@example.com"}"#, policy) == #"{}"#)
        #expect(try maskJSON(#"["x@example.com",2]"#, policy) == #"[null,2]"#)
    }

    @Test func partialAndHashActions() throws {
        let partial = MaskingPolicy(action: .partial(keep: 4))
        #expect(try maskJSON(#"["4111-1111-1111-1111"]"#, partial) == #"["****-****-****-1111"]"#)
        let hashing = MaskingPolicy(action: .hash, hashKey: Array("k".utf8))
        let one = try maskJSON(#"["Ann@Example.com"]"#, hashing)
        #expect(one == (try maskJSON(#"["ann@example.com"]"#, hashing)) && one.hasPrefix(#"["[EMAIL:"#))
        #expect(one != (try maskJSON(#"["bob@example.com"]"#, hashing)))
        let otherKey = MaskingPolicy(action: .hash, hashKey: Array("other".utf8))
        #expect(one != (try maskJSON(#"["ann@example.com"]"#, otherKey)))
    }

    @Test(arguments: [#"{"a":1"#, #"{"a":}"#, #"[1,]"#, #"{"a" 1}"#, #"{"a":1,}"#, #"tru"#, #"01"#, #"{"a":"\x"}"#,
                      "[\"\u{01}\"]", #"[1] 2"#, #"}"#, #"{"a":1}}"#, #"[1 2]"#, #"{1:2}"#, #"["\ud800"]"#, "", "-"])
    func invalidJSONIsAnError(_ text: String) {
        #expect(throws: MaskingError.self) { try maskJSON(text) }
    }

    @Test func invalidUTF8IsAnError() {
        #expect(throws: MaskingError.self) { try JSONMasker.mask([0x5B, 0x22, 0xFF, 0x22, 0x5D], policy: MaskingPolicy()) }
    }

    @Test func depthAndStringSizeAreBounded() {
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: MaskingError.self) { try maskJSON(deep) }
        let masker = JSONMasker(policy: MaskingPolicy(), maxStringBytes: 100)
        #expect(throws: MaskingError.self) { try masker.feed(Array(("[\"" + String(repeating: "a", count: 200)).utf8)) }
    }

    /// Names and commas are written as they come unless a value may be dropped; both ways
    /// the output is the same whatever the chunk boundaries, and valid.
    @Test func spacingSurvivesWithAndWithoutDropActions() throws {
        let text = "{\n  \"a\" : \"x@example.com\" ,\n  \"b\": [ 1 , \"y@example.org\" ],\n  \"c\" :{ } \n}"
        let redacted = "{\n  \"a\" : \"[EMAIL]\" ,\n  \"b\": [ 1 , \"[EMAIL]\" ],\n  \"c\" :{ } \n}"
        let dropping = MaskingPolicy(actions: [.email: .drop])
        for cut in 0...text.utf8.count {
            #expect(try maskJSON(text, cuts: [cut]) == redacted, "cut at \(cut)")
            let dropped = try maskJSON(text, cuts: [cut], dropping)
            #expect(JSONNode.parse(Array(dropped.utf8)) != nil && !dropped.contains("@") && dropped.contains("null"),
                    "cut at \(cut): \(dropped)")
        }
    }

    /// Dropped members (first, middle, last, all), containers masked or dropped whole by
    /// rule, escaped names, numbers and literals: the same valid output at every split.
    @Test func rulesAndDropsGiveTheSameOutputAtEverySplit() throws {
        let policy = MaskingPolicy(actions: [.email: .drop], fields: [
            FieldRule(.key("secret"), action: .drop), FieldRule(.key("token"), action: .redact),
            FieldRule(.path(FieldRule.parsePath("$.list[1]")!), action: .redact),
        ])
        let text = #"{"a":"x@example.com", "n\u0061me" : 4111111111111111,"secret":{"k":[1,{"e":"y@example.org"}]},"#
            + #""b":[true,false,null,-1.5e3,"z@example.net"],"token":[1,2],"list":[{"q":1},{"q":"r"},3],"#
            + #""c":{"only":"w@example.com"},"last":"v@example.com"}"#
        let whole = try maskJSON(text, policy)
        #expect(whole == #"{ "n\u0061me" : "[CREDIT_CARD]","b":[true,false,null,-1.5e3,null],"token":"[TOKEN]","#
                + #""list":[{"q":1},"[LIST]",3],"c":{}}"#)
        for cut in 0...text.utf8.count {
            #expect(try maskJSON(text, cuts: [cut], policy) == whole, "cut at \(cut)")
            #expect(try maskJSON(text, cuts: [cut, cut + 1, cut + 2], policy) == whole, "cuts from \(cut)")
        }
    }

    /// Strings are read sixteen bytes at a time: a value, an escape or a non-ASCII letter is
    /// handled wherever it falls against those steps, and wherever the chunk ends.
    @Test func stringsAreReadRightAtEveryOffset() throws {
        for offset in 0..<40 {
            let pad = String(repeating: "a", count: offset)
            #expect(try maskJSON(#"["\#(pad) ann@example.com b"]"#) == #"["\#(pad) [EMAIL] b"]"#, "at \(offset)")
            #expect(try maskJSON(#"["\#(pad) \u0041KIAIOSFODNN7EXAMPLE"]"#) == #"["\#(pad) [AWS_KEY]"]"#, "at \(offset)")
            let plain = #"{"k":"\#(pad)é\"q\" \#(pad)","\#(pad)":1}"#
            for cut in [offset / 2, offset, offset + 5] {
                #expect(try maskJSON(plain, cuts: [cut]) == plain, "at \(offset), cut at \(cut)")
            }
            #expect(throws: MaskingError.self) { try maskJSON("[\"\(pad)\u{01}\"]") }
            #expect(throws: MaskingError.self) { try JSONMasker.mask(Array("[\"\(pad)".utf8) + [0xFF, 0x22, 0x5D], policy: MaskingPolicy()) }
        }
    }

    /// Property: whatever the chunk boundaries, the output is the same valid document and
    /// no planted value survives.
    @Test func everySplitGivesTheSameOutput() throws {
        let whole = try maskJSON(Self.chat)
        let bytes = Self.chat.utf8.count
        for cut in 0...bytes {
            #expect(try maskJSON(Self.chat, cuts: [cut]) == whole, "cut at \(cut)")
        }
        for a in stride(from: 0, through: bytes, by: 7) {
            let masked = try maskJSON(Self.chat, cuts: [a, a + 3, a + 11])
            #expect(masked == whole && !masked.contains("alice@") && !masked.contains("4111"))
        }
    }
}

@Suite struct JSONStringTests {
    func decode(_ raw: [UInt8]) -> [UInt8]? { raw.withUnsafeBufferPointer(JSONString.decode) }

    /// Escapes and invalid bytes at every position around the sixteen-byte steps.
    @Test func escapesAnywhereInLongRuns() {
        for at in 0..<40 {
            let pad = Array(repeating: UInt8(ascii: "a"), count: at)
            let tail = Array(repeating: UInt8(ascii: "b"), count: 39 - at)
            #expect(decode(pad + Array(#"\n\u00e9\ud83d\ude00\""#.utf8) + tail)
                    == pad + [0x0A] + Array("é😀\"".utf8) + tail, "at \(at)")
            #expect(decode(pad + [0xC3, 0xA9] + tail) == pad + [0xC3, 0xA9] + tail)
            #expect(decode(pad + [0xFF] + tail) == nil, "invalid UTF-8 at \(at)")
            #expect(decode(pad + [0x01] + tail) == nil, "control byte at \(at)")
            #expect(decode(pad + Array(#"\ud800x"#.utf8) + tail) == nil, "lone surrogate at \(at)")
            #expect(decode(pad + Array(#"\q"#.utf8) + tail) == nil, "unknown escape at \(at)")
        }
        #expect(decode(Array(#"abc\"#.utf8)) == nil && decode(Array(#"\u12"#.utf8)) == nil)
    }
}
