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
