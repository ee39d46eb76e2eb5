import NIOCore
import Testing
@testable import PosternCore
@testable import PosternHTTP2

/// Seeded random input for the server session: every input is either accepted or refused
/// with an error, never a crash, and the session keeps producing valid output.
@Suite struct HTTP2SessionRandomInputTests {
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// A frame with a plausible header and random payload, so inputs get past the framing
    /// layer into the frame handlers.
    static func randomFrame(_ rng: inout SplitMix) -> [UInt8] {
        let length = Int.random(in: 0...64, using: &rng)
        var frame: [UInt8] = [0, 0, UInt8(length)]
        frame.append(UInt8.random(in: 0...10, using: &rng))                    // type
        frame.append(UInt8.random(in: 0...255, using: &rng))                   // flags
        let stream = UInt32.random(in: 0...7, using: &rng)
        frame += [UInt8(stream >> 24), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)]
        frame += (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return frame
    }

    @Test func randomFramesNeverCrashTheSession() throws {
        var rng = SplitMix(state: 20_261_122)
        var accepted = 0
        for _ in 0..<2000 {
            let session = try HTTP2Session(role: .server)
            var input = Self.preface + [0, 0, 0, 4, 0, 0, 0, 0, 0]
            for _ in 0..<Int.random(in: 1...6, using: &rng) { input += Self.randomFrame(&rng) }
            var out = ByteBuffer()
            do {
                try session.receive(ByteBuffer(bytes: input))
                accepted += 1
            } catch {}
            try session.send(into: &out)
            session.dispatchEvents { _ in }
            // Whatever happened, what the session says starts with its SETTINGS frame.
            #expect(out.getInteger(at: 3, as: UInt8.self) == 0x4)
        }
        #expect(accepted > 0)
    }

    @Test func randomBytesAfterThePrefaceNeverCrashTheSession() throws {
        var rng = SplitMix(state: 7)
        for _ in 0..<2000 {
            let session = try HTTP2Session(role: .server)
            let junk = (0..<Int.random(in: 1...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? session.receive(ByteBuffer(bytes: Self.preface + junk))
            var out = ByteBuffer()
            _ = try? session.send(into: &out)
            session.dispatchEvents { _ in }
        }
    }
}
