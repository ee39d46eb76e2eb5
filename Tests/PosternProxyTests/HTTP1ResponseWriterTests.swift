import NIOCore
import PosternCore
import Testing
@testable import PosternProxy

@Suite struct HTTP1ResponseWriterTests {
    private func text(_ buffer: ByteBuffer?) -> String { buffer.map { String(buffer: $0) } ?? "" }

    private func body(_ writer: inout HTTP1ResponseWriter, _ data: String) -> String {
        var out = ""
        writer.body(ByteBuffer(string: data)) { out += String(buffer: $0) }
        return out
    }

    @Test func aResponseWithALengthIsSentAsItIs() {
        var writer = HTTP1ResponseWriter(allocator: ByteBufferAllocator())
        let head = ResponseHead(status: 200, headers: HeaderList([
            HeaderField("content-type", "application/json"), HeaderField("content-length", "2")]))
        #expect(text(writer.head(head, method: "GET", http11: true, keepAlive: true))
            == "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n")
        #expect(body(&writer, "{}") == "{}")
        #expect(writer.end(trailers: nil) == nil)
    }

    @Test func aStreamWithoutALengthIsChunkedWithItsTrailers() {
        var writer = HTTP1ResponseWriter(allocator: ByteBufferAllocator())
        let head = ResponseHead(status: 200, headers: HeaderList([HeaderField("content-type", "text/event-stream")]))
        #expect(text(writer.head(head, method: "POST", http11: true, keepAlive: false))
            == "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n")
        #expect(body(&writer, "data: 1\n\n") == "9\r\ndata: 1\n\n\r\n")
        let large = String(repeating: "x", count: 5000)
        #expect(body(&writer, large) == "1388\r\n" + large + "\r\n")
        #expect(text(writer.end(trailers: HeaderList([HeaderField("grpc-status", "0"), HeaderField("content-length", "9")])))
            == "0\r\ngrpc-status: 0\r\n\r\n")
        #expect(writer.framing == .delimited)  // ready for the next response
    }

    @Test func anHTTP10CallerReadsUntilTheConnectionCloses() {
        var writer = HTTP1ResponseWriter(allocator: ByteBufferAllocator())
        let head = ResponseHead(status: 200, headers: HeaderList([HeaderField("content-type", "text/event-stream")]))
        #expect(text(writer.head(head, method: "GET", http11: false, keepAlive: true))
            == "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
        #expect(writer.framing == .untilClose)
        #expect(body(&writer, "data: 1\n\n") == "data: 1\n\n")
        #expect(writer.end(trailers: HeaderList([HeaderField("a", "b")])) == nil)
    }

    @Test func headAndBodilessStatusesSendNoBody() {
        var writer = HTTP1ResponseWriter(allocator: ByteBufferAllocator())
        let head = ResponseHead(status: 200, headers: HeaderList([HeaderField("content-length", "42")]))
        #expect(text(writer.head(head, method: "HEAD", http11: true, keepAlive: true))
            == "HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n")
        #expect(body(&writer, "forty-two bytes would not belong here") == "")
        #expect(writer.end(trailers: nil) == nil)
        let notModified = ResponseHead(status: 304, headers: HeaderList([
            HeaderField("etag", "\"v1\""), HeaderField("content-length", "42"), HeaderField("transfer-encoding", "chunked")]))
        #expect(text(writer.head(notModified, method: "GET", http11: true, keepAlive: true))
            == "HTTP/1.1 304 Not Modified\r\netag: \"v1\"\r\n\r\n")
    }

    @Test func aFieldThatCouldSplitTheHeadIsLeftOut() {
        var writer = HTTP1ResponseWriter(allocator: ByteBufferAllocator())
        let head = ResponseHead(status: 502, headers: HeaderList([
            HeaderField("x-a", "one\r\nset-cookie: injected"), HeaderField("x-b", "two\0"),
            HeaderField("x-c\n", "three"), HeaderField("content-length", "0")]))
        #expect(text(writer.head(head, method: "GET", http11: true, keepAlive: true))
            == "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
    }

    @Test func theHeadBufferIsReusedOnceWritten() {
        var writer = HTTP1ResponseWriter(allocator: ByteBufferAllocator())
        let head = ResponseHead(status: 200, headers: HeaderList([HeaderField("content-length", "0")]))
        var first: ByteBuffer? = writer.head(head, method: "GET", http11: true, keepAlive: true)
        let firstAddress = first!.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        first = nil  // the socket has written it
        let second = writer.head(head, method: "GET", http11: true, keepAlive: true)
        #expect(second.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } == firstAddress)
        #expect(first == nil)
    }

    @Test func standaloneErrorsClose() {
        let (head, body) = ErrorResponse.http(.badRequest("malformed"), requestID: "r1")
        let text = String(buffer: HTTP1ResponseWriter.standalone(head, body: body))
        #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"))
        #expect(text.hasSuffix("connection: close\r\n\r\n" + body))
    }
}
