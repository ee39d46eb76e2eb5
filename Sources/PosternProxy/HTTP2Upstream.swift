import NIOCore
import PosternConfig
import PosternCore
import PosternHTTP2

/// Requests to one h2c upstream from one event loop, multiplexed on one connection.
/// A connection that failed or got GOAWAY is replaced on the next request.
final class HTTP2UpstreamClient: UpstreamClient {
    let upstream: Upstream
    private let eventLoop: EventLoop
    private let limits: Limits
    private var connection: HTTP2UpstreamConnection?

    init(upstream: Upstream, eventLoop: EventLoop, limits: Limits) {
        self.upstream = upstream
        self.eventLoop = eventLoop
        self.limits = limits
    }

    func open(_ head: RequestHead, endStream: Bool, delegate: UpstreamDelegate) -> UpstreamStream {
        let connection: HTTP2UpstreamConnection
        if let current = self.connection, current.acceptsStreams {
            connection = current
        } else {
            connection = connect()
        }
        return connection.open(head, endStream: endStream, delegate: delegate)
    }

    func closeIdle() {
        if let connection, connection.isIdle { connection.close() }
    }

    private func connect() -> HTTP2UpstreamConnection {
        let connection = HTTP2UpstreamConnection(upstream: upstream, limits: limits, eventLoop: eventLoop)
        self.connection = connection
        let bound = NIOLoopBound(connection, eventLoop: eventLoop)
        UpstreamConnector.connect(to: upstream, on: eventLoop) { pipeline in
            try pipeline.addHandler(bound.value)
        }
            .assumeIsolated()
            .whenFailure { [weak self] error in
                connection.connectFailed(error)
                if self?.connection === connection { self?.connection = nil }
            }
        return connection
    }
}

/// One h2c connection to an upstream, run by a client-side nghttp2 session.
final class HTTP2UpstreamConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let upstream: Upstream
    private let eventLoop: EventLoop
    private let session: HTTP2Session?
    private var streams = StreamMap<HTTP2UpstreamStream>()
    private var context: ChannelHandlerContext?
    private let flush = FlushScheduler()
    private var closed = false
    private var goingAway = false

    init(upstream: Upstream, limits: Limits, eventLoop: EventLoop) {
        self.upstream = upstream
        self.eventLoop = eventLoop
        var settings = HTTP2Settings()
        settings.initialStreamWindow = UInt32(limits.streamWindow)
        settings.connectionWindow = UInt32(limits.connectionWindow)
        settings.maxHeaderListSize = UInt32(limits.maxHeaderListSize)
        self.session = try? HTTP2Session(role: .client, settings: settings)
    }

    var acceptsStreams: Bool { !closed && !goingAway && session != nil }
    var isIdle: Bool { streams.isEmpty }

    func open(_ head: RequestHead, endStream: Bool, delegate: UpstreamDelegate) -> UpstreamStream {
        let stream = HTTP2UpstreamStream(connection: self, delegate: delegate)
        guard let session, acceptsStreams else {
            stream.failLater(.upstreamUnavailable("no connection to upstream '\(upstream.name)'"))
            return stream
        }
        do {
            stream.streamID = try session.submitRequest(head: head, endStream: endStream)
            streams[stream.streamID] = stream
            flush.schedule()
        } catch {
            stream.failLater(.upstreamUnavailable("upstream '\(upstream.name)' refused a new stream: \(error)"))
        }
        return stream
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        flush.attach(context)
        flush.beforeFlush = { [weak self] in self?.writeOutput() }
        flush.schedule()  // the preface, SETTINGS and any requests submitted while connecting
    }

    /// Breaks the context's hold on this handler and the flusher's on the context.
    func handlerRemoved(context: ChannelHandlerContext) {
        flush.detach()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try session?.receive(unwrapInboundIn(data))
        } catch {
            processEvents()
            failAll("protocol error from upstream '\(upstream.name)': \(error)")
            context.close(promise: nil)
            return
        }
        processEvents()
    }

    func channelReadComplete(context: ChannelHandlerContext) { flush.flushNow() }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { flush.flushNow() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        flush.detach()
        failAll("upstream '\(upstream.name)' closed the connection")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func connectFailed(_ error: Error) {
        closed = true
        failAll("cannot connect to upstream '\(upstream.name)': \(error)")
    }

    func close() { context?.close(promise: nil) }

    private func failAll(_ message: String) {
        let open = streams
        streams = StreamMap()
        for stream in open.values { stream.fail(.upstreamUnavailable(message)) }
    }

    // MARK: Events

    private func processEvents() {
        session?.dispatchEvents(handle)
    }

    private func handle(_ event: HTTP2Event) {
        switch event {
        case .headers(let streamID, let pseudo, let fields, let endStream, _):
            streams[streamID]?.receivedHeaders(pseudo, fields, endStream: endStream)
        case .data(let streamID, let data):
            if let stream = streams[streamID] {
                stream.delegate?.upstreamResponseBody(data)
            } else {
                session?.consume(streamID: streamID, bytes: data.readableBytes)
            }
        case .endStream(let streamID):
            streams[streamID]?.receivedEnd(trailers: nil)
        case .streamClosed(let streamID, let errorCode):
            if let stream = streams.removeValue(forKey: streamID), !stream.responseComplete {
                stream.fail(.upstreamReset(upstream.name, code: errorCode))
            }
            if goingAway, streams.isEmpty { close() }
        case .goAway:
            goingAway = true
            if streams.isEmpty { close() }
        case .streamError:
            break  // the reset and its close follow
        case .dataSent(let streamID, let bytes):
            streams[streamID]?.delegate?.upstreamCreditRequestBody(bytes)
        }
    }

    private func writeOutput() {
        guard let context, let session else { return }
        guard session.writePending(to: context) else {
            context.close(promise: nil)
            return
        }
        processEvents()
    }

    // MARK: Used by HTTP2UpstreamStream

    func sendData(_ streamID: Int32, _ data: ByteBuffer) {
        session?.sendData(streamID: streamID, data)
        flush.schedule()
    }

    func sendEnd(_ streamID: Int32, trailers: HeaderList?) {
        session?.sendEnd(streamID: streamID, trailers: trailers)
        flush.schedule()
    }

    func cancel(_ streamID: Int32) {
        streams[streamID] = nil
        session?.reset(streamID: streamID, .cancel)
        flush.schedule()
    }

    func consume(_ streamID: Int32, _ bytes: Int) {
        session?.consume(streamID: streamID, bytes: bytes)
        flush.schedule()
    }

    func scheduleOnLoop(_ body: @escaping () -> Void) {
        eventLoop.assumeIsolated().execute(body)
    }
}

/// One request stream on an h2c upstream connection.
final class HTTP2UpstreamStream: UpstreamStream {
    var streamID: Int32 = -1
    private let connection: HTTP2UpstreamConnection
    private(set) var delegate: UpstreamDelegate?
    private var responseStarted = false
    private(set) var responseComplete = false

    init(connection: HTTP2UpstreamConnection, delegate: UpstreamDelegate) {
        self.connection = connection
        self.delegate = delegate
    }

    func receivedHeaders(_ pseudo: PseudoHeaders, _ fields: [HeaderField], endStream: Bool) {
        if responseStarted {
            receivedEnd(trailers: HeaderList(fields))  // a second header block is the trailers
            return
        }
        let status = pseudo.status.flatMap { Int($0) } ?? 0
        // A status outside 1xx-5xx (or 101, never asked for) starts no answer: what followed
        // it would reach the caller headless, as it did over HTTP/1.1 (found by fuzzing).
        guard (100...599).contains(status), status != 101 else {
            fail(.upstreamUnavailable("invalid response from upstream '\(connection.upstream.name)': status \(status)"))
            if streamID > 0 { connection.cancel(streamID) }
            return
        }
        if status < 200 { return }  // interim response
        responseStarted = true
        if endStream { responseComplete = true }
        let delegate = self.delegate
        if endStream { self.delegate = nil }
        delegate?.upstreamResponseHead(ResponseHead(status: status, headers: HeaderList(fields)), endStream: endStream)
    }

    func receivedEnd(trailers: HeaderList?) {
        responseComplete = true
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamResponseEnd(trailers: trailers)
    }

    func fail(_ error: CallerError) {
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamFailed(error)
    }

    /// A failure found while opening is reported after `open` has returned, so the
    /// exchange never hears from a stream it does not hold yet.
    func failLater(_ error: CallerError) {
        connection.scheduleOnLoop { [self] in fail(error) }
    }

    func sendRequestBody(_ data: ByteBuffer) {
        if streamID > 0 { connection.sendData(streamID, data) }
    }

    func sendRequestEnd(trailers: HeaderList?) {
        if streamID > 0 { connection.sendEnd(streamID, trailers: trailers) }
    }

    func cancel() {
        delegate = nil
        if streamID > 0, !responseComplete { connection.cancel(streamID) }
    }

    func creditResponseBody(_ bytes: Int) {
        if streamID > 0 { connection.consume(streamID, bytes) }
    }
}
