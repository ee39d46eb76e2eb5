import NIOCore
import NIOHTTP1
import PosternCore

/// Frames one HTTP/1.1 connection's responses straight into bytes (RFC 9112 §6).
///
/// NIO's encoder wanted each head as NIO's own `HTTPHeaders` first: a copy of every field
/// and three allocations per response, on every response. The head buffer is reused once the
/// socket has written it, so a keep-alive connection answers without allocating for heads.
struct HTTP1ResponseWriter {
    /// How the body of the response under way is delimited.
    enum Framing: Equatable {
        /// By `content-length`, or there is no body (HEAD, 1xx, 204, 304).
        case delimited
        case chunked
        /// An HTTP/1.0 caller without a length: the body ends when the connection closes.
        case untilClose
    }

    private(set) var framing = Framing.delimited
    /// A HEAD (or CONNECT) request: the head says what a GET would get, and no body follows.
    private var suppressBody = false
    private var buffer: ByteBuffer
    private var text: [UInt8] = []
    private let crlf: ByteBuffer
    private let allocator: ByteBufferAllocator

    init(allocator: ByteBufferAllocator) {
        self.allocator = allocator
        buffer = allocator.buffer(capacity: 512)
        text.reserveCapacity(512)
        crlf = allocator.buffer(staticString: "\r\n")
    }

    /// The head of the response to `method`. `http11`: the request was HTTP/1.1 (an HTTP/1.0
    /// caller cannot read chunked framing).
    mutating func head(_ head: ResponseHead, method: String, http11: Bool, keepAlive: Bool) -> ByteBuffer {
        suppressBody = method == "HEAD" || method == "CONNECT"
        let mayHaveBody = !(100..<200).contains(head.status) && head.status != 204 && head.status != 304
            && !(method == "CONNECT" && (200..<300).contains(head.status))
        let hasLength = mayHaveBody && head.headers.contains("content-length")
        if !mayHaveBody || hasLength || suppressBody {
            framing = .delimited
        } else {
            framing = http11 ? .chunked : .untilClose
        }
        // Composed in a reused array and copied once: each ByteBuffer write costs some
        // hundred instructions of its own, and a head is twenty-odd pieces.
        text.removeAll(keepingCapacity: true)
        Self.appendStatusLine(head.status, to: &text)
        for field in head.headers {
            if field.name == "transfer-encoding" || field.name == "connection" { continue }
            if !mayHaveBody, field.name == "content-length" { continue }
            Self.append(field, to: &text)
        }
        if mayHaveBody, !hasLength, http11 { text.append(contentsOf: "transfer-encoding: chunked\r\n".utf8) }
        if !keepAlive || framing == .untilClose {
            text.append(contentsOf: "connection: close\r\n".utf8)
        } else if !http11 {
            text.append(contentsOf: "connection: keep-alive\r\n".utf8)  // HTTP/1.0 closes unless told
        }
        text.append(contentsOf: "\r\n".utf8)
        buffer.clear()
        buffer.writeBytes(text)
        return buffer
    }

    /// `100 Continue`, which asks the caller for its body.
    func continueHead() -> ByteBuffer {
        allocator.buffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n")
    }

    /// Hands `write` the bytes that carry `data` in the current framing (none for a HEAD).
    mutating func body(_ data: ByteBuffer, _ write: (ByteBuffer) -> Void) {
        if suppressBody || data.readableBytes == 0 { return }
        guard framing == .chunked else { return write(data) }
        let size = String(data.readableBytes, radix: 16)
        if data.readableBytes <= 2048 {
            // One buffer for the whole chunk: a copy is cheaper than two more iovecs.
            var chunk = allocator.buffer(capacity: data.readableBytes + size.utf8.count + 4)
            chunk.writeString(size)
            chunk.writeStaticString("\r\n")
            chunk.writeImmutableBuffer(data)
            chunk.writeStaticString("\r\n")
            write(chunk)
        } else {
            write(ByteBuffer(string: size + "\r\n"))
            write(data)
            write(crlf)
        }
    }

    /// The end of the body: the last chunk and any trailers (dropped without chunked framing,
    /// which has no place for them).
    mutating func end(trailers: HeaderList?) -> ByteBuffer? {
        defer { framing = .delimited; suppressBody = false }
        guard framing == .chunked else { return nil }
        guard let trailers, !trailers.isEmpty else { return allocator.buffer(staticString: "0\r\n\r\n") }
        var last = Array("0\r\n".utf8)
        // RFC 9110 §6.5.1: framing fields have no meaning in trailers.
        for field in trailers where field.name != "content-length" && field.name != "transfer-encoding" {
            Self.append(field, to: &last)
        }
        last.append(contentsOf: "\r\n".utf8)
        return allocator.buffer(bytes: last)
    }

    /// A whole response Postern makes itself, outside any exchange (parse errors, timeouts).
    static func standalone(_ head: ResponseHead, body: String) -> ByteBuffer {
        var text: [UInt8] = []
        appendStatusLine(head.status, to: &text)
        for field in head.headers where field.name != "connection" { append(field, to: &text) }
        text.append(contentsOf: "connection: close\r\n\r\n".utf8)
        text.append(contentsOf: body.utf8)
        return ByteBuffer(bytes: text)
    }

    private static func appendStatusLine(_ status: Int, to text: inout [UInt8]) {
        let code = (100...999).contains(status) ? status : 500
        text.append(contentsOf: "HTTP/1.1 ".utf8)
        text.append(UInt8(ascii: "0") + UInt8(code / 100))
        text.append(UInt8(ascii: "0") + UInt8(code / 10 % 10))
        text.append(UInt8(ascii: "0") + UInt8(code % 10))
        text.append(UInt8(ascii: " "))
        text.append(contentsOf: HTTPResponseStatus(statusCode: code).reasonPhrase.utf8)
        text.append(contentsOf: "\r\n".utf8)
    }

    /// One field line. A name or value that could end the line early (CR, LF or NUL) is
    /// left out: the parsers before this refuse them, and a field must never split a head.
    private static func append(_ field: HeaderField, to text: inout [UInt8]) {
        let start = text.count
        text.append(utf8: field.name)
        text.append(UInt8(ascii: ":"))
        text.append(UInt8(ascii: " "))
        text.append(utf8: field.value)
        let unsafe = text.withUnsafeBufferPointer { line in
            line[start...].contains { $0 == 13 || $0 == 10 || $0 == 0 }
        }
        if field.name.isEmpty || unsafe {
            text.removeSubrange(start...)
            return
        }
        text.append(13)
        text.append(10)
    }
}
