import NIOCore
import PosternCore
import PosternHTTP2

/// nghttp2 sessions behind Postern's callbacks, on both sides: what a caller sends (server
/// role) and what a model server answers (client role).
enum HTTP2Targets {
    /// The client connection preface and an empty SETTINGS frame.
    static let clientPreface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]

    static let all = [
        FuzzTarget(name: "http2-server", summary: "HTTP/2 frames from a caller, after the preface") { input in
            guard let session = try? HTTP2Session(role: .server) else { violated("a server session opens") }
            exchange(session, [clientPreface] + Chunking(input).chunks)
        },
        FuzzTarget(name: "http2-client", summary: "HTTP/2 frames from a model server, answering one request") { input in
            guard let session = try? HTTP2Session(role: .client) else { violated("a client session opens") }
            let head = RequestHead(method: "POST", authority: "model", path: "/v1/chat/completions",
                                   headers: HeaderList([HeaderField("content-type", "application/json")]))
            guard let stream = try? session.submitRequest(head: head, endStream: false) else {
                violated("a request is submitted")
            }
            session.sendData(streamID: stream, ByteBuffer(string: "{}"))
            session.sendEnd(streamID: stream)
            exchange(session, Chunking(input).chunks)
        },
    ]

    /// Feeds the chunks, answering as Postern does (sending what the session queues, taking
    /// its events), until the session refuses input.
    static func exchange(_ session: HTTP2Session, _ chunks: [[UInt8]]) {
        var first = true
        for chunk in chunks {
            var out = ByteBuffer()
            let accepted = (try? session.receive(ByteBuffer(bytes: chunk))) != nil
            _ = try? session.send(into: &out)
            if first, session.role == .server, out.getInteger(at: 3, as: UInt8.self) != 0x4 {
                violated("a server session's first frame is its SETTINGS")
            }
            first = false
            session.dispatchEvents { event in
                if case .data(let stream, let data) = event { session.consume(streamID: stream, bytes: data.readableBytes) }
            }
            if !accepted { return }
        }
    }
}
