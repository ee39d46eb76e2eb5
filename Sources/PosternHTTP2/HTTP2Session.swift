import CNGHTTP2
import NIOCore
import PosternCore

/// One side of one HTTP/2 connection, run by nghttp2.
///
/// Bytes go in through `receive` and come out through `send`. The callbacks nghttp2 makes
/// from inside those calls only append to `events`; the owner reads and clears `events`
/// once the call has returned. Received DATA is handed out as slices of the input buffer,
/// and flow-control windows only reopen when the owner calls `consume`, i.e. when the bytes
/// have really left through the other side of the proxy. That is what bounds memory.
///
/// Not thread-safe: one event loop owns a session.
public final class HTTP2Session {
    public enum Role: Sendable { case server, client }

    public let role: Role
    public let settings: HTTP2Settings
    /// Events recorded since the owner last took them.
    public internal(set) var events: [HTTP2Event] = []
    /// RST_STREAM frames this side has sent, in all.
    public internal(set) var resetsSent = 0

    /// Delivers every recorded event to `handle`, in order, including events recorded while
    /// handling (say `dataSent` during a flush). A nested call returns at once and leaves
    /// its events to the outer loop, so no event is delivered twice or out of order.
    /// `batch` sees each batch of events before they are handled one by one: a handler can
    /// see there that a stream opened in it is also closed in it.
    public func dispatchEvents(batch: ([HTTP2Event]) -> Void = { _ in }, _ handle: (HTTP2Event) -> Void) {
        guard !dispatching else { return }
        dispatching = true
        defer { dispatching = false }
        while !events.isEmpty {
            swap(&events, &dispatchScratch)
            batch(dispatchScratch)
            var index = 0
            while index < dispatchScratch.count {
                handle(dispatchScratch[index])
                index += 1
            }
            dispatchScratch.removeAll(keepingCapacity: true)
        }
    }

    var session: OpaquePointer!
    private var dispatching = false
    private var dispatchScratch: [HTTP2Event] = []
    /// The buffer being fed to `nghttp2_session_mem_recv`, so DATA can be sliced out of it.
    var input: ByteBuffer?
    var inputBase: UnsafeRawPointer?
    var received = ReceivedBlock()
    /// Bodies waiting to be framed, per stream we are sending a body on.
    var outbound = StreamMap<OutboundBody>()
    /// Bodies of ended streams, emptied for the next ones (their queues keep their storage).
    var spareBodies: [OutboundBody] = []
    /// Received bytes not yet consumed, per open stream.
    var unconsumed = StreamMap<Int>()
    /// Storage for building header blocks, reused from submit to submit.
    var spareNameValues = NameValueList()

    public init(role: Role, settings: HTTP2Settings = HTTP2Settings()) throws {
        self.role = role
        self.settings = settings
        events.reserveCapacity(64)

        var option: OpaquePointer?
        guard nghttp2_option_new(&option) == 0, let option else {
            throw HTTP2SessionError(code: -1, description: "nghttp2_option_new failed")
        }
        defer { nghttp2_option_del(option) }
        // Windows reopen only when the owner has passed bytes on (see `consume`).
        nghttp2_option_set_no_auto_window_update(option, 1)

        let userData = Unmanaged.passUnretained(self).toOpaque()
        let rv: Int32
        switch role {
        case .server: rv = nghttp2_session_server_new2(&session, HTTP2Callbacks.shared, userData, option)
        case .client: rv = nghttp2_session_client_new2(&session, HTTP2Callbacks.shared, userData, option)
        }
        guard rv == 0 else { throw HTTP2SessionError(code: rv, description: Self.describe(rv)) }

        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                                   value: settings.maxConcurrentStreams),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                   value: settings.initialStreamWindow),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                                   value: settings.maxHeaderListSize),
        ]
        if role == .client {
            entries.append(nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0))
        }
        try check(nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), entries, entries.count))
        try check(nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0,
                                                        Int32(clamping: settings.connectionWindow)))
    }

    deinit {
        nghttp2_session_del(session)
    }

    // MARK: Bytes in and out

    /// Feeds bytes read from the socket. Events are appended to `events`.
    public func receive(_ buffer: ByteBuffer) throws {
        input = buffer
        defer { input = nil; inputBase = nil }
        let rv = buffer.withUnsafeReadableBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            inputBase = base
            return nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), raw.count)
        }
        if rv < 0 { throw HTTP2SessionError(code: Int32(rv), description: Self.describe(Int32(rv))) }
    }

    /// Appends every frame nghttp2 wants to send to `buffer`. May append `dataSent` events.
    public func send(into buffer: inout ByteBuffer) throws {
        while true {
            var chunk: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &chunk)
            if n < 0 { throw HTTP2SessionError(code: Int32(n), description: Self.describe(Int32(n))) }
            guard n > 0, let chunk else { return }
            buffer.writeBytes(UnsafeRawBufferPointer(start: chunk, count: n))
        }
    }

    public var wantsRead: Bool { nghttp2_session_want_read(session) != 0 }
    public var wantsWrite: Bool { nghttp2_session_want_write(session) != 0 }

    // MARK: Streams

    /// Server side: answers a request.
    public func submitResponse(streamID: Int32, head: ResponseHead, endStream: Bool) throws {
        var block = takeNameValues()
        block.append(":status", String(head.status))
        block.append(head.headers)
        let rv = block.submit { nva, count in
            if endStream {
                return nghttp2_submit_response(session, streamID, nva, count, nil)
            }
            var provider = HTTP2Callbacks.dataProvider
            return nghttp2_submit_response(session, streamID, nva, count, &provider)
        }
        spareNameValues = block
        try check(rv)
        if !endStream { outbound[streamID] = spareBodies.popLast() ?? OutboundBody() }
    }

    /// Client side: starts a request and returns its stream id.
    public func submitRequest(head: RequestHead, endStream: Bool) throws -> Int32 {
        var block = takeNameValues()
        block.append(":method", head.method)
        block.append(":scheme", head.scheme)
        block.append(":authority", head.authority)
        block.append(":path", head.path)
        block.append(head.headers)
        let streamID = block.submit { nva, count in
            if endStream {
                return nghttp2_submit_request(session, nil, nva, count, nil, nil)
            }
            var provider = HTTP2Callbacks.dataProvider
            return nghttp2_submit_request(session, nil, nva, count, &provider, nil)
        }
        spareNameValues = block
        try check(streamID)
        if !endStream { outbound[streamID] = spareBodies.popLast() ?? OutboundBody() }
        return streamID
    }

    /// Queues body bytes on a stream whose headers were submitted without END_STREAM.
    public func sendData(streamID: Int32, _ data: ByteBuffer) {
        guard let body = outbound[streamID], !body.ended else { return }
        body.queue.append(data)
        body.queuedBytes += data.readableBytes
        resumeIfDeferred(streamID, body)
    }

    /// Ends the body of a stream, with trailers if given.
    public func sendEnd(streamID: Int32, trailers: HeaderList? = nil) {
        guard let body = outbound[streamID], !body.ended else { return }
        body.ended = true
        body.trailers = trailers.flatMap { $0.isEmpty ? nil : $0 }
        resumeIfDeferred(streamID, body)
    }

    /// Bytes queued on a stream and not yet framed.
    public func queuedBytes(streamID: Int32) -> Int { outbound[streamID]?.queuedBytes ?? 0 }

    /// Resets a stream (RST_STREAM).
    public func reset(streamID: Int32, _ code: HTTP2ErrorCode) {
        retireBody(streamID)
        _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, code.rawValue)
    }

    /// Tells nghttp2 that `bytes` received on `streamID` have been passed on, so the peer
    /// may send that much more (WINDOW_UPDATE).
    public func consume(streamID: Int32, bytes: Int) {
        guard bytes > 0, let pending = unconsumed[streamID] else { return }
        let n = min(bytes, pending)
        unconsumed[streamID] = pending - n
        _ = nghttp2_session_consume(session, streamID, n)
    }

    /// Graceful shutdown: GOAWAY with the last stream we accepted; open streams go on.
    public func goAway(_ code: HTTP2ErrorCode = .noError) {
        let last = nghttp2_session_get_last_proc_stream_id(session)
        _ = nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), last, code.rawValue, nil, 0)
    }

    /// Immediate shutdown: GOAWAY, and nghttp2 stops wanting to read or write once it is sent.
    public func terminate(_ code: HTTP2ErrorCode) {
        _ = nghttp2_session_terminate_session(session, code.rawValue)
    }

    // MARK: Internals used by the callbacks

    func resumeIfDeferred(_ streamID: Int32, _ body: OutboundBody) {
        if body.deferred {
            body.deferred = false
            _ = nghttp2_session_resume_data(session, streamID)
        }
    }

    /// Bytes in this side's HPACK encoder table (RFC 7541 §4.1).
    var encoderTableSize: Int { nghttp2_session_get_hd_deflate_dynamic_table_size(session) }

    /// The reusable header block storage, emptied; give it back with `spareNameValues = block`.
    func takeNameValues() -> NameValueList {
        var block = NameValueList()
        swap(&block, &spareNameValues)
        block.removeAll()
        return block
    }

    func check(_ rv: Int32) throws {
        if rv < 0 { throw HTTP2SessionError(code: rv, description: Self.describe(rv)) }
    }

    static func describe(_ code: Int32) -> String {
        String(cString: nghttp2_strerror(code))
    }
}

/// A body waiting to be framed into DATA frames.
final class OutboundBody {
    var queue: [ByteBuffer] = []
    var head = 0
    var queuedBytes = 0
    var ended = false
    var trailers: HeaderList?
    /// nghttp2 was told there is nothing to send (NGHTTP2_ERR_DEFERRED) and must be resumed.
    var deferred = false

    func reset() {
        queue.removeAll(keepingCapacity: true)
        head = 0
        queuedBytes = 0
        ended = false
        trailers = nil
        deferred = false
    }
}

extension HTTP2Session {
    /// The stream sends no more body: its queue is dropped and kept for another stream.
    func retireBody(_ streamID: Int32) {
        guard let body = outbound.removeValue(forKey: streamID) else { return }
        guard spareBodies.count < 32 else { return }
        body.reset()
        spareBodies.append(body)
    }
}
