import NIOCore
import Testing
@testable import PosternProxy

@Suite struct GRPCMessageFramerTests {
    static func framed(_ payload: [UInt8], flag: UInt8 = 0) -> [UInt8] {
        let n = payload.count
        return [flag, UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + payload
    }

    @Test func messagesComeOutWholeAtEverySplit() throws {
        let body = Self.framed([1, 2, 3]) + Self.framed([]) + Self.framed(Array(repeating: 9, count: 300))
        for split in 0...body.count {
            var framer = GRPCMessageFramer(limit: 1024)
            var out = try framer.feed(ByteBuffer(bytes: body[..<split]).readableBytesView).get()
            out += try framer.feed(ByteBuffer(bytes: body[split...]).readableBytesView).get()
            #expect(out == [Self.framed([1, 2, 3]), Self.framed([]), Self.framed(Array(repeating: 9, count: 300))])
            #expect(!framer.holdsPartialMessage)
        }
        var cut = GRPCMessageFramer(limit: 1024)
        _ = try cut.feed(ByteBuffer(bytes: Self.framed([1, 2, 3]).dropLast()).readableBytesView).get()
        #expect(cut.holdsPartialMessage)
    }

    @Test func compressedOrOversizedMessagesAreProblems() {
        var framer = GRPCMessageFramer(limit: 4)
        if case .failure(.compressed) = framer.feed(ByteBuffer(bytes: Self.framed([1], flag: 1)).readableBytesView) {} else {
            Issue.record("a compressed message passed")
        }
        var small = GRPCMessageFramer(limit: 4)
        if case .failure(.tooLarge(4)) = small.feed(ByteBuffer(bytes: Self.framed([1, 2, 3, 4, 5]).prefix(5)).readableBytesView) {} else {
            Issue.record("an oversized message was held")
        }
    }
}
