import COpenSSL
import NIOCore
import PosternIdentity

/// TLS for one accepted connection, on OpenSSL with memory BIOs: ciphertext from the
/// socket is fed in, plaintext goes up the pipeline; plaintext written by the codecs is
/// encrypted and leaves on flush. Handlers above are installed after the handshake and
/// read `negotiatedProtocol` and `peer` from here.
public final class TLSServerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// The handshake finished; the next handlers can be installed.
    public struct HandshakeCompleted: Sendable {}

    private enum State { case handshaking, open, closed }

    private let tls: TLSServerContext
    private let handshakeTimeout: TimeAmount
    private let onRefused: (String) -> Void
    private let verification: PeerVerification
    private var ssl: OpaquePointer?
    private var incoming: OpaquePointer?
    private var outgoing: OpaquePointer?
    private var state = State.handshaking
    private var timer: Scheduled<Void>?
    /// Promises of plaintext writes whose ciphertext has not been handed to the socket yet.
    private var pendingPromises: [EventLoopPromise<Void>] = []
    private var deliveredPlaintext = false

    /// ALPN's choice (`h2` or `http/1.1`), nil when the client offered none.
    public private(set) var negotiatedProtocol: String?
    /// The caller's verified X.509-SVID, when it presented one.
    public var peer: Principal? { verification.principal }

    /// `onRefused` hears why a handshake failed (for the log); the caller only gets an alert.
    public init(context: TLSServerContext, handshakeTimeout: TimeAmount, onRefused: @escaping (String) -> Void) {
        self.tls = context
        self.handshakeTimeout = handshakeTimeout
        self.onRefused = onRefused
        self.verification = PeerVerification(verifier: context.verifier)
    }

    deinit { if let ssl { SSL_free(ssl) } }

    public func handlerAdded(context: ChannelHandlerContext) {
        guard let ssl = SSL_new(tls.context), let incoming = BIO_new(BIO_s_mem()), let outgoing = BIO_new(BIO_s_mem()) else {
            onRefused("cannot start TLS: \(OpenSSLError.drain())")
            state = .closed
            context.close(promise: nil)
            return
        }
        SSL_set_bio(ssl, incoming, outgoing)  // the SSL owns both BIOs from here
        SSL_set_accept_state(ssl)
        _ = postern_ssl_set_app_data(ssl, Unmanaged.passUnretained(verification).toOpaque())
        self.ssl = ssl
        self.incoming = incoming
        self.outgoing = outgoing
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: handshakeTimeout) { [weak self] in
            guard let self, self.state == .handshaking else { return }
            self.refuse(context, reason: "no TLS handshake within \(self.handshakeTimeout.nanoseconds / 1_000_000) ms")
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        failPending(ChannelError.ioOnClosedChannel)
    }

    // MARK: Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard state != .closed, let incoming else { return }
        let ciphertext = unwrapInboundIn(data)
        _ = ciphertext.withUnsafeReadableBytes { BIO_write(incoming, $0.baseAddress, Int32($0.count)) }
        if state == .handshaking { handshake(context) }
        if state == .open { readPlaintext(context) }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        flushCiphertext(context)
        if deliveredPlaintext {
            deliveredPlaintext = false
            context.fireChannelReadComplete()
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        failPending(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    private func handshake(_ context: ChannelHandlerContext) {
        guard let ssl else { return }
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            state = .open
            timer?.cancel()
            negotiatedProtocol = Self.selectedProtocol(ssl)
            flushCiphertext(context)
            context.fireUserInboundEventTriggered(HandshakeCompleted())
            return
        }
        let error = SSL_get_error(ssl, result)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE {
            flushCiphertext(context)
            return
        }
        let reason = verification.failure.map { "client certificate refused: \($0)" }
            ?? "TLS handshake failed: \(OpenSSLError.drain())"
        refuse(context, reason: reason)
    }

    /// Sends whatever alert OpenSSL queued, reports why, and closes: first the sending side
    /// only, so that a client that already sent its request still reads the alert (closing
    /// with unread input would reset the connection and could discard it), then, shortly
    /// after, the rest. Input meanwhile is dropped.
    private func refuse(_ context: ChannelHandlerContext, reason: String) {
        state = .closed
        timer?.cancel()
        onRefused(reason)
        flushCiphertext(context)
        let halfClosed = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: halfClosed)
        halfClosed.futureResult.assumeIsolated().whenFailure { _ in context.close(promise: nil) }
        context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(500)) { context.close(promise: nil) }
    }

    private func readPlaintext(_ context: ChannelHandlerContext) {
        guard let ssl else { return }
        while state == .open {
            var buffer = context.channel.allocator.buffer(capacity: 16 << 10)
            ERR_clear_error()
            var result: Int32 = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 16 << 10) { space in
                result = SSL_read(ssl, space.baseAddress, Int32(space.count))
                return Int(max(0, result))
            }
            if result > 0 {
                deliveredPlaintext = true
                context.fireChannelRead(wrapInboundOut(buffer))
                continue
            }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return
            case SSL_ERROR_ZERO_RETURN:
                // close_notify: answer it and close.
                close(context: context, mode: .all, promise: nil)
                return
            default:
                state = .closed
                _ = OpenSSLError.drain()
                context.close(promise: nil)
                return
            }
        }
    }

    // MARK: Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard state == .open, let ssl else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let plaintext = unwrapOutboundIn(data)
        if plaintext.readableBytes > 0 {
            ERR_clear_error()
            // Memory BIOs never push back, so a write always completes in one call.
            let written = plaintext.withUnsafeReadableBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
            guard written == plaintext.readableBytes else {
                promise?.fail(ChannelError.ioOnClosedChannel)
                _ = OpenSSLError.drain()
                state = .closed
                context.close(promise: nil)
                return
            }
        }
        if let promise { pendingPromises.append(promise) }
    }

    public func flush(context: ChannelHandlerContext) {
        flushCiphertext(context)
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, state == .open, let ssl {
            state = .closed
            ERR_clear_error()
            _ = SSL_shutdown(ssl)  // queues close_notify
            flushCiphertext(context)
        }
        context.close(mode: mode, promise: promise)
    }

    /// Hands every ciphertext byte OpenSSL produced to the socket, with the promises of
    /// the plaintext writes it carries.
    private func flushCiphertext(_ context: ChannelHandlerContext) {
        guard let outgoing else { return }
        let pending = Int(BIO_ctrl_pending(outgoing))
        let promises = pendingPromises
        pendingPromises.removeAll(keepingCapacity: true)
        guard pending > 0 else {
            promises.forEach { $0.succeed() }
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: pending)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { space in
            Int(max(0, BIO_read(outgoing, space.baseAddress, Int32(pending))))
        }
        var combined: EventLoopPromise<Void>?
        if !promises.isEmpty {
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenComplete { result in
                for each in promises { each.completeWith(result) }
            }
            combined = promise
        }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: combined)
    }

    private func failPending(_ error: Error) {
        let promises = pendingPromises
        pendingPromises.removeAll()
        promises.forEach { $0.fail(error) }
    }

    private static func selectedProtocol(_ ssl: OpaquePointer) -> String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }
}
