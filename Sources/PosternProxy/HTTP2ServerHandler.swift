import NIOCore
import PosternCore
import PosternIdentity
import PosternHTTP2

/// Serves HTTP/2 callers (h2c with prior knowledge; later h2 over TLS) on one connection.
///
/// Bytes go into the nghttp2 session; the events it recorded are acted on after it returns.
/// Output is serialised only when the channel is writable, so a slow reader stops nghttp2
/// from framing more, which stops upstream credit, which stops the upstream.
final class HTTP2ServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let services: LoopServices
    /// The caller's address and verified X.509-SVID, for every request on this connection.
    private let peer: CallerConnection
    private let session: HTTP2Session
    private var streams = StreamMap<HTTP2CallerStream>()
    private var context: ChannelHandlerContext?
    private let flush: FlushScheduler
    private let timers: ConnectionTimers
    private var draining = false
    private var resetBudget: ResetBudget
    private var resetsCounted = 0

    init(services: LoopServices, peer: CallerConnection) throws {
        self.services = services
        self.peer = peer
        self.flush = FlushScheduler(log: services.log)
        let limits = services.config.limits
        var settings = HTTP2Settings()
        settings.maxConcurrentStreams = UInt32(limits.maxConcurrentStreams)
        settings.initialStreamWindow = UInt32(limits.streamWindow)
        settings.connectionWindow = UInt32(limits.connectionWindow)
        settings.maxHeaderListSize = UInt32(limits.maxHeaderListSize)
        self.session = try HTTP2Session(role: .server, settings: settings)
        self.timers = ConnectionTimers(sweeper: services.sweeper, limits: limits)
        self.resetBudget = ResetBudget(burst: limits.resetBurst, perSecond: limits.resetRate)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        flush.attach(context)
        flush.beforeFlush = { [weak self] in self?.writeOutput() }
        timers.onExpire = { [weak self] _ in self?.shutDown(.noError) }
        timers.awaitRequest(firstOnConnection: true)
        flush.schedule()  // our SETTINGS
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timers.cancel()
        flush.detach()
        self.context = nil
        let open = streams
        streams = StreamMap()
        for stream in open.values { stream.exchange?.callerAborted() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        handlerRemoved(context: context)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try session.receive(unwrapInboundIn(data))
        } catch {
            // nghttp2 has queued a GOAWAY where the protocol says so; send it, then close.
            processEvents()
            writeOutput()
            context.flush()
            context.close(promise: nil)
            return
        }
        processEvents()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush.flushNow()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { flush.flushNow() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            draining = true
            session.goAway(.noError)
            flush.flushNow()
            if streams.isEmpty { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Events

    private func processEvents() {
        session.dispatchEvents(batch: noteClosedStreams, handle)
    }

    /// Streams that close in the batch being handled (reset by the caller, or failing a
    /// protocol check, in the same read as they were opened): their requests are logged,
    /// not started, so a flood of them opens no upstream connection for streams gone.
    private var closingInBatch: Set<Int32> = []

    private func noteClosedStreams(_ events: [HTTP2Event]) {
        if !closingInBatch.isEmpty { closingInBatch.removeAll(keepingCapacity: true) }
        for event in events {
            switch event {
            case .streamClosed(let streamID, _), .streamError(let streamID): closingInBatch.insert(streamID)
            default: continue
            }
        }
    }

    private func handle(_ event: HTTP2Event) {
        switch event {
        case .headers(let streamID, let pseudo, let fields, let endStream, let oversized):
            if let stream = streams[streamID] {
                // A second header block from the caller is the request's trailers.
                stream.exchange?.requestEnd(trailers: HeaderList(fields))
            } else {
                openStream(streamID, pseudo, fields, endStream: endStream, oversized: oversized)
            }
        case .data(let streamID, let data):
            if let exchange = streams[streamID]?.exchange {
                exchange.requestBody(data)
            } else {
                session.consume(streamID: streamID, bytes: data.readableBytes)
            }
        case .endStream(let streamID):
            streams[streamID]?.exchange?.requestEnd(trailers: nil)
        case .streamClosed(let streamID, _):
            if let stream = streams.removeValue(forKey: streamID) { stream.closed() }
            if streams.isEmpty { streamsDrained() }
        case .dataSent(let streamID, let bytes):
            streams[streamID]?.exchange?.responseBodyDelivered(bytes)
        case .goAway, .streamError:
            break
        }
    }

    private func openStream(_ streamID: Int32, _ pseudo: PseudoHeaders, _ fields: [HeaderField], endStream: Bool,
                            oversized: Bool) {
        timers.cancel()
        let stream = HTTP2CallerStream(streamID: streamID, handler: self)
        streams[streamID] = stream
        let head = Self.requestHead(pseudo, fields)
        let exchange = Exchange(request: head, caller: stream, peer: peer, services: services)
        stream.exchange = exchange
        if oversized {
            exchange.fail(.headersTooLarge(limit: services.config.limits.maxHeaderListSize),
                          outcome: "request_headers_too_large")
        } else if draining {
            exchange.fail(.shuttingDown(), outcome: "shutting_down")
        } else if head.method == "CONNECT" {
            exchange.fail(.badRequest("CONNECT is not supported"), outcome: "bad_request")
        } else if closingInBatch.contains(streamID) {
            exchange.callerAborted()
        } else {
            exchange.start(endStream: endStream)
        }
    }

    private static func requestHead(_ pseudo: PseudoHeaders, _ fields: [HeaderField]) -> RequestHead {
        var head = RequestHead(method: pseudo.method ?? "", scheme: pseudo.scheme ?? "http",
                               authority: pseudo.authority ?? "", path: pseudo.path ?? "")
        // Host stands in for a missing :authority, and never passes as a field of its own.
        if let host = fields.first(where: { $0.name == "host" }) {
            if head.authority.isEmpty { head.authority = host.value }
            head.headers = HeaderList(fields.filter { $0.name != "host" })
        } else {
            head.headers = HeaderList(fields)
        }
        return head
    }

    private func streamsDrained() {
        if draining {
            flush.flushNow()
            context?.close(promise: nil)
        } else {
            timers.start(.idle, after: services.config.limits.idleTimeout)
        }
    }

    private func shutDown(_ code: HTTP2ErrorCode) {
        session.terminate(code)
        flush.flushNow()
        context?.close(promise: nil)
    }

    /// Queues nghttp2's output, then acts on what sending recorded (bytes first: acting may
    /// close the connection).
    private func writeOutput() {
        guard let context else { return }
        guard session.writePending(to: context) else {
            context.close(promise: nil)
            return
        }
        processEvents()
        guard withinResetBudget(context) else { return }
        if !session.wantsRead && !session.wantsWrite {
            // nghttp2 is done (GOAWAY sent after a connection error): send it, then close.
            context.flush()
            context.close(promise: nil)
        }
    }

    /// Spends the resets just sent; past the budget, GOAWAY (ENHANCE_YOUR_CALM) and close.
    private func withinResetBudget(_ context: ChannelHandlerContext) -> Bool {
        let resets = session.resetsSent - resetsCounted
        guard resets > 0 else { return true }
        resetsCounted = session.resetsSent
        if resetBudget.spend(resets) { return true }
        services.log.connectionEvent("reset_flood", outcome: "enhance_your_calm", peer: peer.hostPort ?? "?",
                                     detail: "more than \(Int(resetBudget.burst)) streams reset, refilled at "
                                         + "\(Int(resetBudget.perSecond))/s: the caller keeps causing stream errors")
        session.terminate(.enhanceYourCalm)
        _ = session.writePending(to: context)
        context.flush()
        context.close(promise: nil)
        return false
    }

    // MARK: Used by HTTP2CallerStream

    func submitResponse(_ streamID: Int32, _ head: ResponseHead, endStream: Bool) {
        do {
            try session.submitResponse(streamID: streamID, head: head, endStream: endStream)
        } catch {
            session.reset(streamID: streamID, .internalError)
        }
        flush.schedule()
    }

    func sendData(_ streamID: Int32, _ data: ByteBuffer) {
        session.sendData(streamID: streamID, data)
        flush.schedule()
    }

    func sendEnd(_ streamID: Int32, trailers: HeaderList?) {
        session.sendEnd(streamID: streamID, trailers: trailers)
        flush.schedule()
    }

    func reset(_ streamID: Int32) {
        session.reset(streamID: streamID, .internalError)
        flush.schedule()
    }

    func consume(_ streamID: Int32, _ bytes: Int) {
        session.consume(streamID: streamID, bytes: bytes)
        flush.schedule()
    }
}

/// One caller stream on an HTTP/2 connection.
final class HTTP2CallerStream: CallerStream {
    let streamID: Int32
    private weak var handler: HTTP2ServerHandler?
    var exchange: Exchange?

    init(streamID: Int32, handler: HTTP2ServerHandler) {
        self.streamID = streamID
        self.handler = handler
    }

    /// nghttp2 closed the stream: a reset by the caller, or the normal end.
    func closed() {
        if let exchange, !exchange.isFinished { exchange.callerAborted() }
        exchange = nil
    }

    func sendResponseHead(_ head: ResponseHead, endStream: Bool) {
        handler?.submitResponse(streamID, head, endStream: endStream)
    }
    func sendResponseBody(_ data: ByteBuffer) { handler?.sendData(streamID, data) }
    func sendResponseEnd(trailers: HeaderList?) { handler?.sendEnd(streamID, trailers: trailers) }
    func resetStream() { handler?.reset(streamID) }
    func creditRequestBody(_ bytes: Int) { handler?.consume(streamID, bytes) }
    func exchangeFinished() { exchange = nil }
}
