import Testing
@testable import PosternMasking

@Suite struct GRPCMessageMaskerTests {
    typealias F = ProtoFixtures
    static let card = PB.string(1, "card 4111 1111 1111 1111")
    // `card` compressed by Python's gzip.compress(mtime=0) and zlib.compress.
    static let gzipped: [UInt8] = [31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 227, 146, 72, 78, 44, 74, 81, 48, 49, 52, 52, 84, 48,
                                   68, 33, 0, 158, 17, 25, 79, 26, 0, 0, 0]
    static let deflated: [UInt8] = [120, 156, 227, 146, 72, 78, 44, 74, 81, 48, 49, 52, 52, 84, 48, 68, 33, 0, 76, 142, 5, 80]

    func masker(encoding: String? = nil, limit: Int = 4 << 20) -> GRPCMessageMasker {
        GRPCMessageMasker(policy: MaskingPolicy(), schema: F.schema, type: F.record, encoding: encoding,
                          maxMessageBytes: limit)
    }

    func run(_ stream: [UInt8], cuts: [Int], _ masker: GRPCMessageMasker) throws -> [UInt8] {
        var out: [UInt8] = []
        var start = 0
        for cut in cuts + [stream.count] where cut >= start {
            out += try masker.feed(Array(stream[start..<cut]))
            start = cut
        }
        return out + (try masker.finish())
    }

    @Test func messagesSplitAtEveryOffsetComeOutMaskedAndReframed() throws {
        let plain = PB.string(5, "nothing to see")
        let stream = PB.frame(Self.card) + PB.frame(plain) + PB.frame([])
        let expected = PB.frame(PB.string(1, "card [CREDIT_CARD]")) + PB.frame(plain) + PB.frame([])
        for cut in 0...stream.count {
            #expect(try run(stream, cuts: [cut], masker()) == expected, "cut at \(cut)")
        }
        for a in stride(from: 0, to: stream.count, by: 3) {
            for b in stride(from: a, to: stream.count, by: 5) {
                #expect(try run(stream, cuts: [a, b], masker()) == expected)
            }
        }
    }

    @Test func compressedMessagesAreInflatedMaskedAndSentUncompressed() throws {
        let expected = PB.frame(PB.string(1, "card [CREDIT_CARD]"))
        #expect(try run(PB.frame(Self.gzipped, compressed: true), cuts: [], masker(encoding: "gzip")) == expected)
        #expect(try run(PB.frame(Self.deflated, compressed: true), cuts: [7], masker(encoding: "deflate")) == expected)
    }

    @Test func whatCannotBeReadEndsTheStream() throws {
        // compressed with an encoding Postern does not read, or not compressed at all
        #expect(throws: MaskingError.self) { try run(PB.frame(Self.gzipped, compressed: true), cuts: [], masker(encoding: "snappy")) }
        #expect(throws: MaskingError.self) { try run(PB.frame(Array("junk".utf8), compressed: true), cuts: [], masker(encoding: "gzip")) }
        // inflating past the limit
        let big = PB.frame(Self.gzipped, compressed: true)
        #expect(throws: MaskingError.self) { try run(big, cuts: [], masker(encoding: "gzip", limit: 20)) }
        // a message over the limit, announced by its prefix
        #expect(throws: MaskingError.self) { try masker(limit: 1024).feed([0, 0, 1, 0, 0]) }
        // a stream ending inside a message, and an unknown flag
        #expect(throws: MaskingError.self) { try run(Array(PB.frame(Self.card).dropLast()), cuts: [], masker()) }
        #expect(throws: MaskingError.self) { try run([2, 0, 0, 0, 0], cuts: [], masker()) }
    }
}

/// A ModelStreamInfer stream of an LLM's tokens: each message's `text_output` element is the
/// next piece of the answer, so a value split across messages is held, never sent in part.
@Suite struct StreamedTensorTests {
    static func message(_ piece: String, other: String = "fine") -> [UInt8] {
        PB.string(1, "llm")
            + PB.bytes(5, PB.string(1, "text_output") + PB.string(2, "BYTES"))
            + PB.bytes(5, PB.string(1, "other") + PB.string(2, "BYTES"))
            + PB.bytes(6, PB.bytesTensor([piece])) + PB.bytes(6, PB.bytesTensor([other]))
    }

    /// Each framed message's raw tensors' elements, in order.
    static func elements(_ stream: [UInt8]) throws -> [[String]] {
        var out: [[String]] = []
        var i = 0
        while i + 5 <= stream.count {
            let n = Int(stream[i + 1]) << 24 | Int(stream[i + 2]) << 16 | Int(stream[i + 3]) << 8 | Int(stream[i + 4])
            let raw = try PB.fields(Array(stream[(i + 5)..<(i + 5 + n)])).filter { $0.0 == 6 }.map { field -> String in
                let bytes = field.2
                return String(decoding: bytes.dropFirst(4), as: UTF8.self)
            }
            out.append(raw)
            i += 5 + n
        }
        return out
    }

    @Test func aValueSplitAcrossMessagesIsHeldAndTheStreamsEndReleasesTheRest() throws {
        let masker = GRPCMessageMasker(policy: MaskingPolicy(), schema: ProtoFixtures.schema, type: ProtoFixtures.response,
                                       encoding: nil, streamedTensors: ["text_output"])
        var out: [UInt8] = []
        for piece in ["card 4111 ", "1111 1111", " 1111 and mail a.b@exa", "mple.com"] {
            out += try masker.feed(PB.frame(Self.message(piece, other: "ssn 123-45-6789")))
        }
        out += try masker.finish()
        let messages = try Self.elements(out)
        #expect(messages.count == 5)  // four, and one that releases the held end
        #expect(messages.map { $0[0] }.joined() == "card [CREDIT_CARD] and mail [EMAIL]")
        #expect(messages.allSatisfy { $0[1] == "ssn [US_SSN]" })  // not streamed: masked in each message
        let text = String(decoding: out, as: UTF8.self)
        #expect(!text.contains("4111") && !text.contains("a.b@") && !text.contains("123-45"))
    }

    @Test func whatIsHeldGoesOutBeforeAMessageWithoutTheTensor() throws {
        let masker = GRPCMessageMasker(policy: MaskingPolicy(), schema: ProtoFixtures.schema, type: ProtoFixtures.response,
                                       encoding: nil, streamedTensors: ["text_output"])
        var out = try masker.feed(PB.frame(Self.message("mail a.b@example.com")))
        out += try masker.feed(PB.frame(PB.string(1, "llm") + PB.string(3, "final")))
        out += try masker.finish()
        #expect(try Self.elements(out) == [["mail ", "fine"], ["[EMAIL]", "fine"], []])
    }

    @Test func withoutStreamedTensorsEachMessageIsWhole() throws {
        let masker = GRPCMessageMasker(policy: MaskingPolicy(), schema: ProtoFixtures.schema, type: ProtoFixtures.response,
                                       encoding: nil)
        let out = try masker.feed(PB.frame(Self.message("echo: ssn 123-45-6789"))) + masker.finish()
        #expect(try Self.elements(out) == [["echo: ssn [US_SSN]", "fine"]])
    }
}
