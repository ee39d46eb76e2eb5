#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import PosternCore

/// What an nghttp2 session reports. nghttp2 callbacks only append these; the owner acts
/// on them after `receive` or `send` has returned, so the session is never re-entered.
public enum HTTP2Event {
    /// A complete header block: request headers (server), response headers (client),
    /// or trailers. Pseudo-header fields come apart from the regular `fields`, so neither
    /// side copies the list to drop them. `oversized` means it exceeded the header list
    /// limit and `fields` is incomplete.
    case headers(streamID: Int32, pseudo: PseudoHeaders, fields: [HeaderField], endStream: Bool, oversized: Bool)
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

/// The pseudo-header fields of a header block (RFC 9113 §8.3). nghttp2 has checked them
/// before they get here: each at most once, before the regular fields, none in trailers.
public struct PseudoHeaders: Sendable, Equatable {
    public var method: String?
    public var scheme: String?
    public var authority: String?
    public var path: String?
    public var status: String?

    public init(method: String? = nil, scheme: String? = nil, authority: String? = nil, path: String? = nil,
                status: String? = nil) {
        self.method = method
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.status = status
    }

    /// Takes a field whose name starts with ':'; false for a name this type has no place for.
    mutating func take(_ name: UnsafeBufferPointer<UInt8>, _ value: String) -> Bool {
        func named(_ known: StaticString) -> Bool {
            known.utf8CodeUnitCount == name.count
                && memcmp(known.utf8Start, name.baseAddress!, name.count) == 0
        }
        switch name.count {
        case 5 where named(":path"): path = value
        case 7 where named(":method"): method = value
        case 7 where named(":scheme"): scheme = value
        case 7 where named(":status"): status = value
        case 10 where named(":authority"): authority = value
        default: return false
        }
        return true
    }
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
