import NIOCore
import NIOHTTP1

/// Tells HTTP/2 with prior knowledge (h2c) from HTTP/1.1 by the first bytes a caller
/// sends, installs the matching codec behind itself, and steps aside.
final class ProtocolSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let services: LoopServices
    private var buffered: ByteBuffer?
    private var timer: Scheduled<Void>?

    init(services: LoopServices) { self.services = services }

    func handlerAdded(context: ChannelHandlerContext) {
        // A caller that sends nothing at all is held no longer than a slow request head.
        let timeout = services.config.limits.headerReadTimeout
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(timeout.nanoseconds)) {
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffered == nil {
            buffered = incoming
        } else {
            buffered!.writeBuffer(&incoming)
        }
        guard let buffered else { return }
        switch Self.classify(buffered.readableBytesView) {
        case .undecided: return
        case .http2: install(context, http2: true)
        case .http1: install(context, http2: false)
        }
    }

    enum Verdict { case http1, http2, undecided }

    /// HTTP/2 if the bytes so far are the connection preface (or a prefix of it).
    static func classify(_ bytes: ByteBufferView) -> Verdict {
        for (offset, byte) in zip(0..<preface.count, bytes) where preface[offset] != byte {
            return .http1
        }
        return bytes.count >= preface.count ? .http2 : .undecided
    }

    private func install(_ context: ChannelHandlerContext, http2: Bool) {
        timer?.cancel()
        do {
            let pipeline = context.pipeline.syncOperations
            if http2 {
                try pipeline.addHandler(try HTTP2ServerHandler(services: services))
            } else {
                try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                try pipeline.addHandler(HTTPResponseEncoder())
                try pipeline.addHandler(HTTPServerPipelineHandler())
                try pipeline.addHandler(HTTP1ServerHandler(services: services))
            }
        } catch {
            context.close(promise: nil)
            return
        }
        if let buffered {
            self.buffered = nil
            context.fireChannelRead(wrapInboundOut(buffered))
            context.fireChannelReadComplete()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
