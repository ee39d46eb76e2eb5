import NIOCore
import PosternCore

/// Answers a connection that arrived over `max_connections`, in its own protocol, then
/// closes it: HTTP/1.1 callers get a 503 JSON error, HTTP/2 callers SETTINGS and GOAWAY
/// (ENHANCE_YOUR_CALM) with the reason. Nothing else runs for such a connection, and it is
/// held at most `patience` waiting for its first bytes.
final class OverLimitResponder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let patience: TimeAmount
    private var seen = ByteBuffer()
    private var answered = false

    init(patience: TimeAmount = .seconds(1)) { self.patience = patience }

    func handlerAdded(context: ChannelHandlerContext) {
        context.eventLoop.assumeIsolated().scheduleTask(in: patience) { context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        var incoming = unwrapInboundIn(data)
        seen.writeBuffer(&incoming)
        switch ProtocolSniffer.classify(seen.readableBytesView) {
        case .undecided: return
        case .http2: answer(context, Self.http2Refusal())
        case .http1: answer(context, Self.http1Refusal())
        }
    }

    private func answer(_ context: ChannelHandlerContext, _ bytes: ByteBuffer) {
        answered = true
        context.writeAndFlush(wrapOutboundOut(bytes)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    static func http1Refusal() -> ByteBuffer {
        let (head, body) = ErrorResponse.http(.tooManyConnections(), requestID: RequestID.generate())
        var text = "HTTP/1.1 503 Service Unavailable\r\n"
        for field in head.headers { text += "\(field.name): \(field.value)\r\n" }
        return ByteBuffer(string: text + "connection: close\r\n\r\n" + body)
    }

    /// An empty SETTINGS frame (our connection preface) and a GOAWAY carrying the reason.
    static func http2Refusal() -> ByteBuffer {
        let reason = Array(CallerError.tooManyConnections().message.utf8)
        var buffer = ByteBuffer()
        buffer.writeBytes([0, 0, 0, 0x4, 0, 0, 0, 0, 0])                  // SETTINGS, empty
        buffer.writeInteger(UInt32(8 + reason.count) << 8 | 0x7)        // length (24 bits), GOAWAY
        buffer.writeInteger(UInt8(0))                                    // flags
        buffer.writeInteger(UInt32(0))                                   // stream 0
        buffer.writeInteger(UInt32(0))                                   // last stream id
        buffer.writeInteger(UInt32(0xb))                                 // ENHANCE_YOUR_CALM
        buffer.writeBytes(reason)
        return buffer
    }
}
