import NIOCore
import PosternClient
import PosternCore
import PosternHTTP2

/// One request over HTTP/2 (prior knowledge in cleartext, ALPN `h2` over TLS) for
/// `postern audit replay` of gRPC and HTTP/2 exchanges: the answer read to the stream's
/// end, trailers included, on Postern's own nghttp2 session.
enum HTTP2ReplayClient {
    typealias Reply = ReplayClient.Reply
    typealias ReplayError = ClientStream.Failure

    static func send(_ address: ServerAddress, method: String, path: String, headers: [(String, String)],
                     body: [UInt8]) -> Result<Reply, ReplayError> {
        let stream: ClientStream
        switch ClientStream.open(address, alpn: ["h2"]) {
        case .success(let opened): stream = opened
        case .failure(let failure): return .failure(failure)
        }
        if address.isTLS, stream.negotiatedProtocol != "h2" {
            return .failure(ReplayError("\(address.host):\(address.port) did not agree to HTTP/2 (ALPN h2)"))
        }
        do {
            let session = try HTTP2Session(role: .client)
            var fields = HeaderList()
            for (name, value) in headers where !ReplayClient.connectionFields.contains(name) && !name.hasPrefix(":") {
                fields.add(name, value)
            }
            if headers.contains(where: { $0.0 == "te" }) { fields.add("te", "trailers") }  // gRPC asks for it
            let head = RequestHead(method: method, scheme: address.isTLS ? "https" : "http",
                                   authority: "\(address.host):\(address.port)", path: path, headers: fields)
            let id = try session.submitRequest(head: head, endStream: body.isEmpty)
            if !body.isEmpty {
                session.sendData(streamID: id, ByteBuffer(bytes: body))
                session.sendEnd(streamID: id)
            }
            return try exchange(session, id, stream)
        } catch {
            return .failure(ReplayError("HTTP/2: \(error)"))
        }
    }

    private static func exchange(_ session: HTTP2Session, _ id: Int32, _ stream: ClientStream) throws -> Result<Reply, ReplayError> {
        var reply: Reply?
        var closed = false
        var failure: String?
        var input = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            var out = ByteBuffer()
            try session.send(into: &out)
            if out.readableBytes > 0, !stream.write(Array(out.readableBytesView)) { return .failure(ReplayError("send failed")) }
            session.dispatchEvents { event in
                switch event {
                case .headers(let streamID, let pseudo, let fields, _, _) where streamID == id:
                    let pairs = fields.map { ($0.name, $0.value) }
                    if reply == nil, let status = pseudo.status.flatMap({ Int($0) }) {
                        reply = Reply(status: status, headers: pairs, body: [])
                    } else {
                        reply?.trailers += pairs
                    }
                case .data(let streamID, let data) where streamID == id:
                    reply?.body += data.readableBytesView
                    session.consume(streamID: id, bytes: data.readableBytes)
                case .streamClosed(let streamID, let code) where streamID == id:
                    closed = true
                    if code != 0 { failure = "the server reset the stream (error \(code))" }
                case .goAway(let last, let code) where last < id:
                    closed = true
                    failure = "the server refused the request with GOAWAY (error \(code))"
                default:
                    break
                }
            }
            if let failure { return .failure(ReplayError(failure)) }
            if closed, let reply { return .success(reply) }
            guard (reply?.body.count ?? 0) < 64 << 20 else { return .failure(ReplayError("the reply is over 64 MiB")) }
            let n = stream.read(into: &input)
            guard n > 0 else { return .failure(ReplayError("the connection closed before the answer ended")) }
            try session.receive(ByteBuffer(bytes: input[..<n]))
        }
    }
}
