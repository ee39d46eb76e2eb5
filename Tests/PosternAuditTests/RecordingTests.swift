import PosternCrypto
import PosternJSON
import Testing
@testable import PosternAudit

@Suite struct RecordingTests {
    private func message(_ payload: String) -> [UInt8] {
        let bytes = Array(payload.utf8)
        return [0, 0, 0, UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
    }

    @Test func gRPCBodiesAreKeptOneMessagePerChunkWhateverTheFramesCarried() throws {
        var recording = Recording(startedAt: 100, cap: 1 << 20, byMessage: true)
        let two = message("hello") + message("world!")
        recording.responseBody(two.prefix(3), at: 100.010)   // part of a prefix
        recording.responseBody(two.dropFirst(3).prefix(9), at: 100.020)  // the first message completes
        recording.responseBody(two.dropFirst(12), at: 100.030)
        recording.responseBody(message("cut")[..<6], at: 100.040)  // a message cut off at the end
        recording.trailers([("grpc-status", "0"), ("authorization", "Bearer x")])
        recording.finish(at: 100.050)
        #expect(recording.responseChunks.map(\.bytes) == [message("hello"), message("world!"), Array(message("cut")[..<6])])
        #expect(recording.responseChunks.map(\.at) == [20, 30, 50])
        let line = try #require(JSONValue.parse(recording.line(requestID: "r")))
        #expect(line["response"]?["trailers"] == .array([.array([.string("grpc-status"), .string("0")])]))
    }

    @Test func maskedGRPCRequestMessagesKeepTheirOwnTimes() {
        var recording = Recording(startedAt: 0, cap: 1 << 20, byMessage: true)
        recording.requestBody(message("a@example.com"), at: 0.1)
        recording.requestBody(message("plain"), at: 0.2)
        recording.maskRequestBody(message("[EMAIL]") + message("plain"))
        #expect(recording.requestChunks.map(\.bytes) == [message("[EMAIL]"), message("plain")])
        #expect(recording.requestChunks.map(\.at) == [100, 200])
    }

    @Test func theQueryIsRecordedWithoutItsCredentials() {
        #expect(Recording.recordedTarget("/v1/models") == "/v1/models")
        #expect(Recording.recordedTarget("/sse?events=2&API_KEY=sk-1&flag&token=t&q=a@b.c", mask: { $0.replacing("a@b.c", with: "[EMAIL]") })
                == "/sse?events=2&API_KEY=[withheld]&flag&token=[withheld]&q=[EMAIL]")
    }

    @Test func pastTheCapChunksKeepTheirTimeButNotTheirBytes() {
        var recording = Recording(startedAt: 0, cap: 4)
        recording.responseBody(Array("abc".utf8), at: 0.001)
        recording.responseBody(Array("defg".utf8), at: 0.002)
        #expect(recording.responseChunks.map(\.bytes) == [Array("abc".utf8), []] && recording.truncated)
    }
}

@Suite struct RecordingLookupTests {
    @Test func theRecordAndTheRecordingItsDigestNamesAreFound() throws {
        let recording = Array("{\"request_id\":\"r-2\",\"truncated\":false}".utf8)
        let digest = Recording.digest(recording)
        let log = Array(("{\"log\":\"x\"}\n"
            + "{\"index\":0,\"v\":1,\"kind\":\"request.start\",\"request_id\":\"r-2\"}\n"
            + "{\"index\":1,\"v\":1,\"kind\":\"request\",\"request_id\":\"r-1\"}\n"
            + "{\"index\":2,\"v\":1,\"kind\":\"request\",\"detail\":\"\\\"request_id\\\":\\\"r-2\\\"\",\"request_id\":\"r-3\"}\n"
            + "{\"index\":3,\"v\":1,\"kind\":\"request\",\"request_id\":\"r-2\",\"recording_sha256\":\"\(digest)\"}\n").utf8)
        let record = try #require(RecordingLookup.record(of: "r-2", in: log))
        #expect(record["index"]?.number == 3)
        #expect(RecordingLookup.record(of: "r-9", in: log) == nil)
        let file = Array("{\"request_id\":\"r-1\"}\n".utf8) + recording + [0x0A]
        #expect(RecordingLookup.recording(digest: digest, in: file) == recording)
        #expect(RecordingLookup.recording(digest: digest, in: Array("{\"request_id\":\"r-2\",\"truncated\":true}\n".utf8)) == nil)
    }
}
