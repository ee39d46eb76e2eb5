import NIOCore
import NIOHTTP1
import PosternCore
import PosternTLS

/// Tells HTTP/2 (h2 or h2c prior knowledge) from HTTP/1.1 by the first bytes a caller
/// sends, installs the matching codec behind itself, and steps aside. On a port that
/// serves TLS and cleartext, it first tells a TLS ClientHello from cleartext.
final class ProtocolSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// The first byte of every TLS record carrying a handshake (the ClientHello).
    static let tlsHandshakeRecord: UInt8 = 0x16

    private let services: LoopServices
    /// The TLS layer below this sniffer, once a handshake is under way or done.
    private let tls: TLSServerHandler?
    /// TLS to start when the first byte says so (a port serving both).
    private let offering: TLSServerContext?
    private var buffered: ByteBuffer?
    private var timer: Scheduled<Void>?

    init(services: LoopServices, tls: TLSServerHandler? = nil, offering: TLSServerContext? = nil) {
        self.services = services
        self.tls = tls
        self.offering = offering
    }

    /// A TLS layer whose refused handshakes go to the request log.
    static func tlsHandler(_ context: TLSServerContext, channel: Channel, services: LoopServices) -> TLSServerHandler {
        let peer = channel.remoteAddress?.hostPort ?? "?"
        let log = services.log
        return TLSServerHandler(context: context,
                                handshakeTimeout: .nanoseconds(services.config.limits.headerReadTimeout.nanoseconds)) { reason in
            log.connectionEvent("connection_refused", outcome: "tls_refused", peer: peer, detail: reason)
        }
    }

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
        if let offering, buffered.readableBytes > 0 {
            if buffered.readableBytesView.first == Self.tlsHandshakeRecord {
                installTLS(context, offering)
                return
            }
        }
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

    private func installTLS(_ context: ChannelHandlerContext, _ tlsContext: TLSServerContext) {
        let handler = Self.tlsHandler(tlsContext, channel: context.channel, services: services)
        install(context) { pipeline in
            try pipeline.addHandler(handler)
            try pipeline.addHandler(ProtocolSniffer(services: services, tls: handler))
        }
    }

    private func install(_ context: ChannelHandlerContext, http2: Bool) {
        let peer = CallerConnection(address: context.channel.remoteAddress, isTLS: tls != nil, certificate: tls?.peer)
        install(context) { [services] pipeline in
            if http2 {
                try pipeline.addHandler(try HTTP2ServerHandler(services: services, peer: peer))
            } else {
                try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                // Responses are framed by HTTP1ResponseWriter, and pipelined requests held by
                // HTTP1ServerHandler itself (see there why).
                try pipeline.addHandler(HTTP1ServerHandler(services: services, peer: peer))
            }
        }
    }

    /// Adds the next handlers behind this one, hands them what was read, and steps aside.
    private func install(_ context: ChannelHandlerContext,
                         _ add: (ChannelPipeline.SynchronousOperations) throws -> Void) {
        timer?.cancel()
        do {
            try add(context.pipeline.syncOperations)
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
