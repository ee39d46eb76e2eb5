import Testing
@testable import PosternMasking

@Suite struct ProtobufMaskerTests {
    typealias F = ProtoFixtures

    func mask(_ message: [UInt8], type: Int = F.record, _ policy: MaskingPolicy = MaskingPolicy()) throws -> [UInt8]? {
        var masker = ProtobufMasker(policy: policy, schema: F.schema)
        return try masker.mask(message, type: type)
    }

    @Test func masksStringFieldsAndRewritesLengths() throws {
        let message = PB.string(1, "card 4111 1111 1111 1111, mail ann@example.com") + PB.string(5, "plain")
        let masked = try #require(try mask(message))
        #expect(try PB.strings(masked, 1) == ["card [CREDIT_CARD], mail [EMAIL]"])
        #expect(try PB.strings(masked, 5) == ["plain"])
    }

    @Test func unchangedMessagesAreNil() throws {
        let message = PB.string(1, "order 2024-05-01 #A-1234, id 123e4567-e89b-12d3-a456-426614174000")
            + PB.int(4, 1_715_000_000_000) + PB.string(5, "v1.2.3")
        #expect(try mask(message) == nil)
    }

    @Test func walksNestedRepeatedAndMapFields() throws {
        let child = PB.string(5, "call +1 415 555 2671") + PB.string(5, "ok")
        let message = PB.bytes(6, PB.bytes(6, child)) + PB.entry(7, "owner", PB.string(2, "bob@example.org"))
            + PB.entry(7, "team", PB.string(2, "search"))
        let masked = try #require(try mask(message))
        let outer = try PB.fields(masked)
        let inner = try PB.fields(try #require(outer.first { $0.0 == 6 }).2)
        #expect(try PB.strings(inner[0].2, 5) == ["call [PHONE]", "ok"])
        let entries = outer.filter { $0.0 == 7 }.map(\.2)
        #expect(try PB.strings(entries[0], 1) == ["owner"] && PB.strings(entries[0], 2) == ["[EMAIL]"])
        #expect(try PB.strings(entries[1], 2) == ["search"])
    }

    @Test func debugRedactFieldsAreMaskedWhole() throws {
        let message = PB.string(1, "hello") + PB.string(2, "the launch code") + PB.int(3, 42)
        let masked = try #require(try mask(message))
        let fields = try PB.fields(masked)
        #expect(fields.map(\.0) == [1, 2])  // the redacted integer is gone
        #expect(try PB.strings(masked, 2) == ["[SECRET]"])
    }

    @Test func fieldRulesByNameByMapKeyAndByPath() throws {
        let policy = MaskingPolicy(fields: [FieldRule(.key("note"), action: .redact),
                                            FieldRule(.key("api_key"), action: .drop),
                                            FieldRule(.path([.key("tags"), .index(1)]), action: .redact)])
        let message = PB.string(1, "free text") + PB.entry(7, "api_key", PB.string(2, "k-123"))
            + PB.entry(7, "region", PB.string(2, "eu")) + PB.string(5, "a") + PB.string(5, "b") + PB.string(5, "c")
        let masked = try #require(try mask(message, policy))
        #expect(try PB.strings(masked, 1) == ["[NOTE]"])
        #expect(try PB.strings(masked, 5) == ["a", "[TAGS]", "c"])
        let entries = try PB.fields(masked).filter { $0.0 == 7 }.map(\.2)
        #expect(try entries.map { try PB.strings($0, 1) } == [["api_key"], ["region"]])
        #expect(try PB.strings(entries[0], 2).isEmpty && PB.strings(entries[1], 2) == ["eu"])
    }

    @Test func cardNumbersWrittenAsIntegersAreDropped() throws {
        let masked = try #require(try mask(PB.int(4, 4_111_111_111_111_111) + PB.string(5, "x")))
        #expect(try PB.fields(masked).map(\.0) == [5])
        #expect(try mask(PB.int(4, 4_111_111_111_111_112)) == nil)  // fails Luhn
    }

    @Test func unknownFieldsAreDroppedOnlyWhenSomethingIsFoundInThem() throws {
        let secret = PB.string(99, "ann@example.com") + PB.string(1, "x")
        #expect(try PB.fields(try #require(try mask(secret))).map(\.0) == [1])
        let harmless = PB.string(99, "nothing here") + PB.int(98, 7) + PB.group(97, PB.int(1, 2))
        #expect(try mask(harmless) == nil)
        let hidden = PB.group(97, PB.string(1, "4111111111111111"))
        #expect(try PB.fields(try #require(try mask(hidden + PB.string(1, "x")))).map(\.0) == [1])
    }

    @Test func groupsAreWalkedByTheirType() throws {
        let masked = try #require(try mask(PB.group(9, PB.string(10, "ssn 123-45-6789"))))
        let fields = try PB.fields(masked)
        #expect(fields.count == 1 && fields[0].1 == 3)
        #expect(try PB.strings(fields[0].2, 10) == ["ssn [US_SSN]"])
    }

    @Test func jsonInsideAStringIsMaskedAsJSON() throws {
        let masked = try #require(try mask(PB.string(1, #"{"card": "4111111111111111", "n": 1}"#)))
        #expect(try PB.strings(masked, 1) == [#"{"card": "[CREDIT_CARD]", "n": 1}"#])
    }

    @Test func bytesTensorsAreMaskedElementByElement() throws {
        let fp32 = [UInt8](repeating: 0x3F, count: 16)
        let message = PB.bytes(5, PB.string(1, "text") + PB.string(2, "BYTES"))
            + PB.bytes(5, PB.string(1, "scores") + PB.string(2, "FP32"))
            + PB.bytes(6, PB.bytesTensor(["hi", "mail ann@example.com", "ok"])) + PB.bytes(6, fp32)
        let masked = try #require(try mask(message, type: F.response))
        let raws = try PB.fields(masked).filter { $0.0 == 6 }.map(\.2)
        #expect(raws == [PB.bytesTensor(["hi", "mail [EMAIL]", "ok"]), fp32])
    }

    @Test func rawTensorsBeforeTheirOutputsAreStillTyped() throws {
        let message = PB.bytes(6, PB.bytesTensor(["4111 1111 1111 1111"]))
            + PB.bytes(5, PB.string(1, "t") + PB.string(2, "BYTES"))
        let masked = try #require(try mask(message, type: F.response))
        #expect(try PB.fields(masked).first?.2 == PB.bytesTensor(["[CREDIT_CARD]"]))
    }

    @Test func aBrokenBytesTensorIsAnError() throws {
        let message = PB.bytes(5, PB.string(2, "BYTES")) + PB.bytes(6, [9, 0, 0, 0, 0x41])
        #expect(throws: MaskingError.self) { try mask(message, type: F.response) }
    }

    @Test func bytesContentsElementsAreMaskedInPlace() throws {
        let contents = PB.string(8, "a") + PB.string(8, "ip 10.1.2.3")
        let message = PB.bytes(5, PB.string(2, "BYTES") + PB.bytes(5, contents))
        let masked = try #require(try mask(message, type: F.response))
        let tensor = try PB.fields(masked)[0].2
        let maskedContents = try #require(try PB.fields(tensor).first { $0.0 == 5 }).2
        #expect(try PB.strings(maskedContents, 8) == ["a", "ip [IP_ADDRESS]"])
    }

    @Test func mapParametersOfMessagesAreWalked() throws {
        let message = PB.entry(4, "note", PB.bytes(2, PB.string(3, "reach me at ann@example.com")))
        let masked = try #require(try mask(message, type: F.response))
        let entry = try PB.fields(masked)[0].2
        let value = try #require(try PB.fields(entry).first { $0.0 == 2 }).2
        #expect(try PB.strings(value, 3) == ["reach me at [EMAIL]"])
    }

    @Test func everyTruncationIsAnErrorOrAValidPrefix() throws {
        let message = PB.string(1, "card 4111 1111 1111 1111") + PB.bytes(6, PB.string(5, "ann@example.com"))
            + PB.group(9, PB.string(10, "x"))
        for cut in 0..<message.count {
            let prefix = Array(message[..<cut])
            // A prefix that ends between fields is itself a message; any other is refused.
            let boundaries: Set = [0, PB.string(1, "card 4111 1111 1111 1111").count,
                                   message.count - PB.group(9, PB.string(10, "x")).count]
            if boundaries.contains(cut) {
                _ = try mask(prefix)
            } else {
                #expect(throws: MaskingError.self, "cut at \(cut)") { try mask(prefix) }
            }
        }
    }

    @Test func invalidUTF8InAStringFieldIsAnError() throws {
        #expect(throws: MaskingError.self) { try mask(PB.bytes(1, [0x61, 0xFF, 0x62])) }
        #expect(try mask(PB.bytes(8, [0x61, 0xFF, 0x62])) == nil)  // bytes may be binary
    }

    @Test func deepNestingIsAnErrorNotACrash() throws {
        var message = PB.string(1, "x")
        for _ in 0..<200 { message = PB.bytes(6, message) }
        #expect(throws: MaskingError.self) { try mask(message) }
    }

    @Test func randomBytesNeverCrash() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            let bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? mask(bytes)
            _ = try? mask(bytes, type: F.response)
        }
    }

    @Test func maskedOutputIsStableWhenMaskedAgain() throws {
        let message = PB.string(1, "4111 1111 1111 1111") + PB.bytes(6, PB.string(5, "ann@example.com"))
            + PB.entry(7, "k", PB.string(2, "+44 20 7946 0958"))
        let once = try #require(try mask(message))
        #expect(try mask(once) == nil)
    }
}

@Suite struct ProtoSchemaTests {
    @Test func methodsMapToTheirMessages() throws {
        let method = try #require(ProtoFixtures.schema.methods["/inference.GRPCInferenceService/ModelInfer"])
        #expect(method.output == ProtoFixtures.response && method.input == ProtoFixtures.record)
        #expect(ProtoFixtures.schema.messages[ProtoFixtures.response].rawTensors?.rawField == 6)
    }

    @Test func aMalformedSetIsAnError() {
        #expect(throws: MaskingError.self) { try ProtoSchema.build(descriptorSets: [[0x0A, 0x05, 0x01]]) }
        #expect(throws: MaskingError.self) { try ProtoSchema.build(descriptorSets: [Array("not a descriptor".utf8)]) }
    }

    @Test func aFieldOfAnUnknownTypeIsAnError() throws {
        var file = ProtoFixtures.message("M", [ProtoFixtures.field("x", 1, .message, typeName: ".nowhere.N")])
        file.name = "M"
        var proto = SwiftProtobufFile()
        proto.messageType = [file]
        #expect(throws: MaskingError.self) { try ProtoSchema.build(descriptorSets: [proto.set]) }
    }
}
