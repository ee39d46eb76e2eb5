import CNGHTTP2
import NIOCore
import PosternCore

/// The C callbacks nghttp2 calls. Each one finds its `HTTP2Session` through `user_data`
/// and only records what happened; none of them calls back into the proxy.
enum HTTP2Callbacks {
    nonisolated(unsafe) static let shared: OpaquePointer = {
        var callbacks: OpaquePointer?
        precondition(nghttp2_session_callbacks_new(&callbacks) == 0, "nghttp2 callbacks allocation failed")
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameRecv)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunkRecv)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, onFrameSend)
        nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks, onInvalidFrameRecv)
        return callbacks!
    }()

    static let dataProvider = nghttp2_data_provider(
        source: nghttp2_data_source(ptr: nil), read_callback: readBody)

    static func session(_ userData: UnsafeMutableRawPointer?) -> HTTP2Session {
        Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
    }

    static let onBeginHeaders: nghttp2_on_begin_headers_callback = { _, frame, userData in
        let session = HTTP2Callbacks.session(userData)
        session.received.begin()
        if let frame, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue),
           frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
            session.unconsumed[frame.pointee.hd.stream_id] = 0
        }
        return 0
    }

    static let onHeader: nghttp2_on_header_callback = { _, _, name, nameLength, value, valueLength, _, userData in
        let session = HTTP2Callbacks.session(userData)
        let limit = Int(session.settings.maxHeaderListSize)
        let kept = session.received.add(name: UnsafeBufferPointer(start: name, count: nameLength),
                                        value: UnsafeBufferPointer(start: value, count: valueLength), limit: limit)
        return kept ? 0 : Int32(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
    }

    static let onFrameRecv: nghttp2_on_frame_recv_callback = { _, frame, userData in
        guard let frame else { return 0 }
        let session = HTTP2Callbacks.session(userData)
        let header = frame.pointee.hd
        let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch UInt32(header.type) {
        case NGHTTP2_HEADERS.rawValue:
            if session.unconsumed[header.stream_id] == nil { session.unconsumed[header.stream_id] = 0 }
            let (pseudo, oversized) = (session.received.pseudo, session.received.oversized)
            session.events.append(.headers(streamID: header.stream_id, pseudo: pseudo, fields: session.received.takeFields(),
                                           endStream: endStream, oversized: oversized))
        case NGHTTP2_DATA.rawValue:
            if endStream { session.events.append(.endStream(streamID: header.stream_id)) }
        case NGHTTP2_GOAWAY.rawValue:
            session.events.append(.goAway(lastStreamID: frame.pointee.goaway.last_stream_id,
                                          errorCode: frame.pointee.goaway.error_code))
        default:
            break
        }
        return 0
    }

    /// Counts the streams this side resets, whether Postern asked or nghttp2 did on a
    /// stream error: what a reset budget spends.
    static let onFrameSend: nghttp2_on_frame_send_callback = { _, frame, userData in
        if let frame, frame.pointee.hd.type == UInt8(NGHTTP2_RST_STREAM.rawValue) {
            HTTP2Callbacks.session(userData).resetsSent += 1
        }
        return 0
    }

    /// A frame nghttp2 refused (a window overflow, DATA past content-length…): it will
    /// reset that stream or end the connection. Said at once, so a stream opened in the same
    /// read is not started.
    static let onInvalidFrameRecv: nghttp2_on_invalid_frame_recv_callback = { _, frame, _, userData in
        if let frame, frame.pointee.hd.stream_id != 0 {
            HTTP2Callbacks.session(userData).events.append(.streamError(streamID: frame.pointee.hd.stream_id))
        }
        return 0
    }

    static let onDataChunkRecv: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, length, userData in
        let session = HTTP2Callbacks.session(userData)
        guard let data, length > 0 else { return 0 }
        session.unconsumed[streamID, default: 0] += length
        // The chunk normally lies inside the buffer being received: hand out a slice.
        if let input = session.input, let base = session.inputBase {
            let offset = UnsafeRawPointer(data) - base
            if offset >= 0, offset + length <= input.readableBytes,
               let slice = input.getSlice(at: input.readerIndex + offset, length: length) {
                session.events.append(.data(streamID: streamID, slice))
                return 0
            }
        }
        var copy = ByteBufferAllocator().buffer(capacity: length)
        copy.writeBytes(UnsafeRawBufferPointer(start: data, count: length))
        session.events.append(.data(streamID: streamID, copy))
        return 0
    }

    static let onStreamClose: nghttp2_on_stream_close_callback = { sessionPointer, streamID, errorCode, userData in
        let session = HTTP2Callbacks.session(userData)
        session.retireBody(streamID)
        // Bytes nobody will pass on any more still count against the connection window.
        if let pending = session.unconsumed.removeValue(forKey: streamID), pending > 0 {
            _ = nghttp2_session_consume_connection(sessionPointer, pending)
        }
        session.events.append(.streamClosed(streamID: streamID, errorCode: errorCode))
        return 0
    }

    /// Frames queued body bytes; defers when the queue is empty and the body is not done.
    static let readBody: nghttp2_data_source_read_callback = { _, streamID, buffer, length, flags, _, userData in
        let session = HTTP2Callbacks.session(userData)
        guard let body = session.outbound[streamID], let buffer, let flags else {
            return ssize_t(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
        }
        var written = 0
        while written < length, body.head < body.queue.count {
            let n = min(length - written, body.queue[body.head].readableBytes)
            body.queue[body.head].readWithUnsafeReadableBytes { raw in
                (buffer + written).update(from: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: n)
                return n
            }
            written += n
            if body.queue[body.head].readableBytes == 0 { body.head += 1 }
        }
        if body.head == body.queue.count {
            body.queue.removeAll(keepingCapacity: true)
            body.head = 0
        }
        body.queuedBytes -= written
        if written > 0 { session.events.append(.dataSent(streamID: streamID, bytes: written)) }

        if body.queuedBytes == 0 && body.ended {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            if let trailers = body.trailers {
                flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                session.submitTrailers(streamID: streamID, trailers)
            }
            session.retireBody(streamID)
            return written
        }
        if written == 0 {
            body.deferred = true
            return ssize_t(NGHTTP2_ERR_DEFERRED.rawValue)
        }
        return written
    }
}

extension HTTP2Session {
    /// Called from the body callback, as nghttp2 allows, to end a stream with trailers.
    func submitTrailers(streamID: Int32, _ trailers: HeaderList) {
        var block = takeNameValues()
        block.append(trailers)
        _ = block.submit { nva, count in nghttp2_submit_trailer(session, streamID, nva, count) }
        spareNameValues = block
    }
}
