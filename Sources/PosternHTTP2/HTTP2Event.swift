import NIOCore
import PosternCore

/// What an nghttp2 session reports. nghttp2 callbacks only append these; the owner acts
/// on them after `receive` or `send` has returned, so the session is never re-entered.
public enum HTTP2Event {
    /// A complete header block: request headers (server), response headers (client),
    /// or trailers. `oversized` means it exceeded the header list limit and `fields` is
    /// incomplete.
    case headers(streamID: Int32, fields: [HeaderField], endStream: Bool, oversized: Bool)
    /// DATA payload, a slice of the buffer given to `receive` (no copy).
    case data(streamID: Int32, ByteBuffer)
    /// The peer ended its side of the stream with a DATA frame (END_STREAM).
    case endStream(streamID: Int32)
    /// The stream is gone: `errorCode` 0 means it completed, anything else is a reset.
    case streamClosed(streamID: Int32, errorCode: UInt32)
    /// A frame on this stream broke the protocol: nghttp2 resets the stream (the close
    /// follows as `streamClosed`).
    case streamError(streamID: Int32)
    /// The peer sent GOAWAY.
    case goAway(lastStreamID: Int32, errorCode: UInt32)
    /// `bytes` of a stream's queued body were framed for sending: the caller may let the
    /// source of those bytes send more.
    case dataSent(streamID: Int32, bytes: Int)
}

/// nghttp2 error codes (RFC 9113 §7) Postern uses when it resets a stream.
public enum HTTP2ErrorCode: UInt32, Sendable {
    case noError = 0x0
    case protocolError = 0x1
    case internalError = 0x2
    case flowControlError = 0x3
    case refusedStream = 0x7
    case cancel = 0x8
    case enhanceYourCalm = 0xb
}

public struct HTTP2SessionError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var description: String
}
