import NIOCore
import NIOHTTP1
import PosternConfig
import PosternCore

/// HTTP/1.1 connections to one upstream from one event loop, reused between requests.
///
/// At most `max_connections` are open at once (connecting, busy or idle); further requests
/// wait in arrival order for one to come free, so a burst of callers never becomes a burst
/// of connections to the model server. A waiting request is bounded by `response_timeout`.
final class HTTP1UpstreamPool: UpstreamClient {
    let upstream: Upstream
    private let eventLoop: EventLoop
    private var idle: [HTTP1UpstreamConnection] = []
    private var openConnections = 0
    private var waiting = CircularBuffer<HTTP1UpstreamRequest>()

    init(upstream: Upstream, eventLoop: EventLoop) {
        self.upstream = upstream
        self.eventLoop = eventLoop
    }

    func open(_ head: RequestHead, endStream: Bool, delegate: UpstreamDelegate) -> UpstreamStream {
        let request = HTTP1UpstreamRequest(head: head, endStream: endStream, delegate: delegate)
        dispatch(request)
        return request
    }

    /// Sends a request that a reused connection dropped unanswered once more, on a fresh
    /// connection (never an idle one, which may be just as stale).
    func retry(_ request: HTTP1UpstreamRequest) {
        if openConnections < upstream.maxConnections { connect(request) } else { waiting.append(request) }
    }

    private func dispatch(_ request: HTTP1UpstreamRequest) {
        if let connection = takeIdle() {
            connection.assign(request)
        } else if openConnections < upstream.maxConnections {
            connect(request)
        } else {
            waiting.append(request)
        }
    }

    /// An idle connection that is still fresh; stale ones are closed on the way.
    private func takeIdle() -> HTTP1UpstreamConnection? {
        let now = NIODeadline.now()
        let maxIdle = TimeAmount.nanoseconds(upstream.idleTimeout.nanoseconds)
        while let connection = idle.popLast() {
            if connection.isUsable, now - connection.idleSince < maxIdle { return connection }
            connection.close()
        }
        return nil
    }

    private func connect(_ request: HTTP1UpstreamRequest) {
        openConnections += 1
        let connection = HTTP1UpstreamConnection(pool: self)
        let bound = NIOLoopBound(connection, eventLoop: eventLoop)
        let name = upstream.name
        UpstreamConnector.connect(to: upstream, on: eventLoop) { pipeline in
            try pipeline.addHTTPClientHandlers()
            try pipeline.addHandler(bound.value)
        }
            .assumeIsolated()
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    // A slot is held for the channel's whole life, and freed when it closes,
                    // whatever closed it: a channel closed from here, before it is active,
                    // never reports channelInactive.
                    channel.closeFuture.assumeIsolated().whenComplete { [self] _ in connectionClosed(connection) }
                    connection.assign(request)
                case .failure(let error):
                    openConnections -= 1
                    request.fail(.upstreamUnavailable("cannot connect to upstream '\(name)': \(error)"))
                    serveWaiting()
                }
            }
    }

    /// Takes a connection back after a complete exchange: the oldest waiter gets it, or it
    /// goes idle.
    func release(_ connection: HTTP1UpstreamConnection) {
        guard connection.isUsable else {
            connection.close()
            return
        }
        if let next = nextWaiter() {
            connection.assign(next)
        } else if idle.count < upstream.maxIdleConnections {
            connection.idleSince = .now()
            idle.append(connection)
        } else {
            connection.close()
        }
    }

    /// A connection closed, by either side (its channel's close future): its slot is free
    /// for a waiter.
    private func connectionClosed(_ connection: HTTP1UpstreamConnection) {
        openConnections -= 1
        idle.removeAll { $0 === connection }
        serveWaiting()
    }

    private func serveWaiting() {
        while openConnections < upstream.maxConnections, let next = nextWaiter() { connect(next) }
    }

    /// The oldest waiting request whose exchange still wants it.
    private func nextWaiter() -> HTTP1UpstreamRequest? {
        while let request = waiting.popFirst() {
            if request.delegate != nil { return request }
        }
        return nil
    }

    func closeIdle() {
        let connections = idle
        idle = []
        for connection in connections { connection.close() }
    }
}

/// One request to an HTTP/1.1 upstream. Exists before a connection is assigned and
/// holds the caller's body parts until then.
final class HTTP1UpstreamRequest: UpstreamStream {
    let head: RequestHead
    let endStream: Bool
    private(set) var delegate: UpstreamDelegate?
    private var connection: HTTP1UpstreamConnection?
    private var pending: [HTTPClientRequestPart] = []
    private(set) var requestComplete = false
    private(set) var retried = false

    init(head: RequestHead, endStream: Bool, delegate: UpstreamDelegate) {
        self.head = head
        self.endStream = endStream
        self.delegate = delegate
        self.requestComplete = endStream
    }

    func attach(_ connection: HTTP1UpstreamConnection) -> [HTTPClientRequestPart] {
        self.connection = connection
        defer { pending = [] }
        return pending
    }

    func sendRequestBody(_ data: ByteBuffer) {
        if let connection { connection.write(.body(.byteBuffer(data))) } else { pending.append(.body(.byteBuffer(data))) }
    }

    func sendRequestEnd(trailers: HeaderList?) {
        requestComplete = true
        let part = HTTPClientRequestPart.end(trailers.map(HeadTranslation.nioHeaders))
        if let connection { connection.write(part) } else { pending.append(part) }
    }

    func cancel() {
        delegate = nil
        pending = []
        connection?.abandon()
        connection = nil
    }

    func creditResponseBody(_ bytes: Int) { connection?.creditResponse(bytes) }

    /// Reports a failure once and forgets the exchange.
    func fail(_ error: CallerError) {
        let delegate = self.delegate
        self.delegate = nil
        connection = nil
        delegate?.upstreamFailed(error)
    }

    func finished() {
        delegate = nil
        connection = nil
    }

    /// Only an idempotent request without a body may be sent twice (RFC 9110 §9.2.2), and
    /// only once more.
    var mayRetry: Bool {
        !retried && endStream && delegate != nil && ["GET", "HEAD", "OPTIONS", "TRACE", "DELETE"].contains(head.method)
    }

    func detachForRetry() {
        retried = true
        connection = nil
    }
}

/// The pipeline end of one pooled HTTP/1.1 upstream connection.
final class HTTP1UpstreamConnection: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Never
    typealias OutboundOut = HTTPClientRequestPart

    private let pool: HTTP1UpstreamPool
    private var context: ChannelHandlerContext?
    private var request: HTTP1UpstreamRequest?
    private var keepAlive = true
    private var responseComplete = false
    private var responseStarted = false
    /// This connection has completed an exchange before: a close before the current
    /// response started may be the server retiring it, not a verdict on the request.
    private var reused = false
    private var readGate = ReadGate()
    private var writeCredit = WriteCredit()
    /// When the pool took this connection back.
    var idleSince = NIODeadline.now()

    init(pool: HTTP1UpstreamPool) { self.pool = pool }

    var isUsable: Bool { context?.channel.isActive == true && request == nil && keepAlive }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    /// The context holds this handler: keeping it after the channel is gone would keep the
    /// whole closed connection alive (found by the soak benchmark: callers that hang up).
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func assign(_ request: HTTP1UpstreamRequest) {
        guard let context, context.channel.isActive else {
            request.fail(.upstreamUnavailable("upstream '\(pool.upstream.name)' closed the connection"))
            close()
            return
        }
        guard request.delegate != nil else {  // cancelled while connecting
            pool.release(self)
            return
        }
        self.request = request
        responseComplete = false
        responseStarted = false
        // A read held while the previous response ended must not stall this one.
        if readGate.reset() { context.read() }
        writeCredit.reset()
        let head = HeadTranslation.http1Request(request.head, hasBody: !request.endStream)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if request.endStream { context.write(wrapOutboundOut(.end(nil)), promise: nil) }
        for part in request.attach(self) { write(part, flush: false) }
        context.flush()
    }

    func write(_ part: HTTPClientRequestPart, flush: Bool = true) {
        guard let context else { return }
        context.write(wrapOutboundOut(part), promise: nil)
        if case .body(.byteBuffer(let data)) = part {
            let credit = writeCredit.wrote(data.readableBytes, writable: context.channel.isWritable)
            if credit > 0 { request?.delegate?.upstreamCreditRequestBody(credit) }
        }
        if flush { context.flush() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let credit = writeCredit.writabilityChanged(writable: context.channel.isWritable)
        if credit > 0 { request?.delegate?.upstreamCreditRequestBody(credit) }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let request else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            let code = head.status.code
            if (100..<200).contains(code), code != 101 { return }  // 100-continue, 103 and other interim answers
            // 101 was never asked for, and a status outside 1xx-5xx has no meaning: its body
            // must not reach the caller as if some answer had begun (found by fuzzing).
            guard (200...599).contains(code) else {
                return refuse(context, "invalid response from upstream '\(pool.upstream.name)': status \(code)")
            }
            responseStarted = true
            keepAlive = head.isKeepAlive
            request.delegate?.upstreamResponseHead(HeadTranslation.responseHead(head), endStream: false)
        case .body(let body):
            readGate.received(body.readableBytes)
            request.delegate?.upstreamResponseBody(body)
        case .end(let trailers):
            responseComplete = true
            let delegate = request.delegate
            delegate?.upstreamResponseEnd(trailers: trailers.map { HeaderList(Array($0)) })
            finishRequest()
        }
    }

    private func finishRequest() {
        guard let request else { return }
        let reusable = keepAlive && responseComplete && request.requestComplete
        request.finished()
        self.request = nil
        reused = true
        if reusable { pool.release(self) } else { close() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        keepAlive = false
        if let request, !responseComplete {
            self.request = nil
            if reused, !responseStarted, request.mayRetry {
                request.detachForRetry()
                pool.retry(request)
            } else {
                request.fail(.upstreamUnavailable("upstream '\(pool.upstream.name)' closed the connection"))
            }
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        refuse(context, "invalid response from upstream '\(pool.upstream.name)': \(error)")
    }

    /// A reply that cannot be forwarded: the request fails (502) and the connection goes.
    private func refuse(_ context: ChannelHandlerContext, _ reason: String) {
        keepAlive = false
        if let request {
            self.request = nil
            request.fail(.upstreamUnavailable(reason))
        }
        context.close(promise: nil)
    }

    /// The exchange gave up on this request: the connection is mid-message, so close it.
    func abandon() {
        request = nil
        keepAlive = false
        close()
    }

    func close() { context?.close(promise: nil) }

    // MARK: Read gating (backpressure on the response body)

    func read(context: ChannelHandlerContext) {
        if readGate.mayRead() { context.read() }
    }

    func creditResponse(_ bytes: Int) {
        if readGate.delivered(bytes) { context?.read() }
    }
}
