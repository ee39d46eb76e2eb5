import NIOCore
import NIOHTTP1
import PosternCore
import PosternIdentity

/// Serves HTTP/1.1 callers on one connection, one exchange at a time: a request sent before
/// the current response has ended (pipelining) waits, in order, with the socket's reads held
/// until it is taken. A caller that waits for each answer, as nearly all do, never has its
/// reads held, so the socket stays registered for reading (no epoll_ctl per request).
///
/// Backpressure: a `ReadGate` holds the socket's reads while too much of the request body
/// is undelivered upstream.
final class HTTP1ServerHandler: ChannelDuplexHandler, CallerStream {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    private let services: LoopServices
    /// The caller's address and verified X.509-SVID, for every request on this connection.
    private let peer: CallerConnection
    private let connection: ConnectionTimers
    private var context: ChannelHandlerContext!
    private var exchange: Exchange?
    /// The request head asked for keep-alive, and nothing forced a close since.
    private var keepAlive = true
    private var readGate = ReadGate()
    /// The caller has sent the whole current request (its `.end` arrived).
    private var requestEnded = true
    private var responseOpen = false
    private var quiescing = false
    /// Postern has answered and is closing the connection: what the caller still sends (the
    /// rest of a refused body) is no request, and its parse errors are not answered or logged.
    private var closing = false
    private let flush: FlushScheduler
    private var writeCredit = WriteCredit()
    private var writer = HTTP1ResponseWriter(allocator: ByteBufferAllocator())
    /// The current request's method and whether it was HTTP/1.1: they decide the framing.
    private var requestMethod = "GET"
    private var http11 = true
    /// What arrived for later requests while the current response was under way.
    private var pipelined = CircularBuffer<Pipelined>()
    private var pipelineReadHeld = false
    private var replaying = false

    private enum Pipelined {
        case part(HTTPServerRequestPart)
        case parseError(Error)
    }

    init(services: LoopServices, peer: CallerConnection) {
        self.services = services
        self.peer = peer
        self.connection = ConnectionTimers(sweeper: services.sweeper, limits: services.config.limits)
        self.flush = FlushScheduler(log: services.log)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        flush.attach(context)
        connection.onExpire = { [weak self] in self?.timerExpired($0) }
        connection.awaitRequest(firstOnConnection: true)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        pipelined.removeAll()
        connection.cancel()
        exchange?.callerAborted()
        exchange = nil
        // The flusher holds the context, which holds this handler: every closed connection
        // stayed in memory until this was let go (found by the soak benchmark).
        flush.detach()
        self.context = nil
    }

    // MARK: Inbound

    /// Whether the current exchange has its whole request and waits for its response: what
    /// arrives now belongs to a later request.
    private var awaitingResponse: Bool { exchange != nil && requestEnded }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if !pipelined.isEmpty || awaitingResponse {
            pipelined.append(.part(part))
            return
        }
        handle(part, context: context)
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            if closing { return }  // the connection ends with the answer already sent
            connection.requestStarted()
            keepAlive = head.isKeepAlive && !quiescing
            requestEnded = false
            requestMethod = head.method.rawValue
            http11 = head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1)
            let (request, facts) = HeadTranslation.requestHead(head)
            let exchange = Exchange(request: request, caller: self, peer: peer, services: services)
            self.exchange = exchange
            let limit = services.config.limits.maxHeaderListSize
            if facts.headerListSize > limit {
                exchange.fail(.headersTooLarge(limit: limit), outcome: "request_headers_too_large")
            } else if request.authority.isEmpty {
                exchange.fail(.badRequest("HTTP/1.1 request without Host"), outcome: "bad_request")
            } else if facts.hostFields > 1 {
                // RFC 9112 §3.2: which one a server behind would read is anyone's guess.
                exchange.fail(.badRequest("more than one Host field"), outcome: "bad_request")
            } else if quiescing {
                exchange.fail(.shuttingDown(), outcome: "shutting_down")
            } else {
                exchange.start(endStream: !facts.declaresBody)
                // Postern accepted the request: tell a waiting client to send its body now
                // rather than after its own timeout (curl waits a second). An HTTP/1.0 caller's
                // expectation is ignored (RFC 9110 §10.1.1): it cannot read an interim answer.
                if !exchange.isFinished, http11, facts.expectsContinue {
                    context.writeAndFlush(wrapOutboundOut(writer.continueHead()), promise: nil)
                }
            }
        case .body(let body):
            guard let exchange else { return }
            readGate.received(body.readableBytes)
            exchange.requestBody(body)
        case .end(let trailers):
            requestEnded = true
            exchange?.requestEnd(trailers: trailers.map { HeaderList(Array($0)) })
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush.flushNow()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is HTTPParserError, !pipelined.isEmpty || awaitingResponse {
            pipelined.append(.parseError(error))  // a later request's: answered in its turn
            return
        }
        handleError(error, context: context)
    }

    private func handleError(_ error: Error, context: ChannelHandlerContext) {
        if closing { return }
        // Malformed HTTP/1.1: answer once with a JSON error if no response is under way.
        if error is HTTPParserError, exchange == nil || !responseOpen {
            keepAlive = false
            let callerError: CallerError
            if let parserError = error as? HTTPParserError, parserError == .headerOverflow {
                callerError = .headersTooLarge(limit: 80 << 10)
            } else {
                callerError = .badRequest("malformed HTTP/1.1 request: \(error)")
            }
            writeStandalone(callerError)
            return
        }
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            keepAlive = false
            if exchange == nil { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func timerExpired(_ timer: ConnectionTimers.Kind) {
        guard exchange == nil else { return }
        switch timer {
        case .headerRead:
            keepAlive = false
            writeStandalone(.requestTimeout("request head not received in time"))
        case .idle:
            context?.close(promise: nil)
        }
    }

    // MARK: Read gating (backpressure)

    func read(context: ChannelHandlerContext) {
        if !pipelined.isEmpty {
            pipelineReadHeld = true  // nothing more is read until the waiting requests are taken
            return
        }
        if readGate.mayRead() { context.read() }
    }

    /// Hands on what waited, in order, until a request again waits for its response; then
    /// reads again once nothing waits.
    private func replayPipelined(context: ChannelHandlerContext) {
        guard !replaying else { return }  // a response ended inside `handle`: the loop below goes on
        replaying = true
        defer { replaying = false }
        while !pipelined.isEmpty, !awaitingResponse, !closing {
            switch pipelined.removeFirst() {
            case .part(let part): handle(part, context: context)
            case .parseError(let error): handleError(error, context: context)
            }
        }
        if closing { pipelined.removeAll() }
        if pipelined.isEmpty, pipelineReadHeld, !closing {
            pipelineReadHeld = false
            if readGate.mayRead() { context.read() }
        }
    }

    /// A read the body's backpressure released, held instead while requests wait.
    private func readUnlessPipelined(_ context: ChannelHandlerContext) {
        if pipelined.isEmpty { context.read() } else { pipelineReadHeld = true }
    }

    func creditRequestBody(_ bytes: Int) {
        guard readGate.delivered(bytes), let context else { return }
        readUnlessPipelined(context)
    }

    // MARK: CallerStream

    func sendResponseHead(_ head: ResponseHead, endStream: Bool) {
        guard let context else { return }
        responseOpen = true
        let bytes = writer.head(head, method: requestMethod, http11: http11, keepAlive: keepAlive)
        if writer.framing == .untilClose { keepAlive = false }
        context.write(wrapOutboundOut(bytes), promise: nil)
        if endStream { sendResponseEnd(trailers: nil) } else { flush.schedule() }
    }

    func sendResponseBody(_ data: ByteBuffer) {
        guard let context else { return }
        writer.body(data) { context.write(wrapOutboundOut($0), promise: nil) }
        flush.schedule()
        let credit = writeCredit.wrote(data.readableBytes, writable: context.channel.isWritable)
        if credit > 0 { exchange?.responseBodyDelivered(credit) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let credit = writeCredit.writabilityChanged(writable: context.channel.isWritable)
        if credit > 0 { exchange?.responseBodyDelivered(credit) }
        context.fireChannelWritabilityChanged()
    }

    func sendResponseEnd(trailers: HeaderList?) {
        guard let context else { return }
        responseOpen = false
        exchange = nil
        let releaseRead = readGate.reset()
        writeCredit.reset()
        // A response that ended before its request did leaves the connection mid-message.
        let close = !keepAlive || !requestEnded
        if !close { connection.awaitRequest(firstOnConnection: false) }
        if let last = writer.end(trailers: trailers) { context.write(wrapOutboundOut(last), promise: nil) }
        if close {
            closing = true
            flush.flushNow(thenClose: true)  // the flush may wait behind the exchange's record
        } else {
            flush.flushNow()
            if releaseRead { readUnlessPipelined(context) }
            replayPipelined(context: context)
        }
    }

    func resetStream() {
        keepAlive = false
        closing = true
        context?.close(promise: nil)
    }

    /// Nothing left to do: `sendResponseEnd` or `resetStream` already settled the connection.
    func exchangeFinished() {}

    /// An error answered outside any exchange (parse errors, head timeouts), then close.
    private func writeStandalone(_ error: CallerError) {
        guard let context else { return }
        closing = true
        let requestID = RequestID.generate()
        let (head, body) = ErrorResponse.http(error, requestID: requestID)
        let bytes = HTTP1ResponseWriter.standalone(head, body: body)
        context.writeAndFlush(wrapOutboundOut(bytes)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
        services.log.write(RequestLog.Entry(
            requestID: requestID, method: "-", path: "-", upstream: nil, status: error.httpStatus,
            grpcStatus: nil, bytesIn: 0, bytesOut: 0, durationNanos: 0, outcome: error.code, detail: error.message))
    }
}
