/// The HTTP/2 settings Postern advertises and enforces on one connection.
public struct HTTP2Settings: Sendable, Equatable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS; nghttp2 refuses streams beyond it.
    public var maxConcurrentStreams: UInt32 = 256
    /// SETTINGS_INITIAL_WINDOW_SIZE: how much a peer may send on one stream before Postern
    /// has passed it on. This is the per-stream memory bound for request/response bodies.
    public var initialStreamWindow: UInt32 = 1 << 20
    /// The connection-level receive window (sum over all streams).
    public var connectionWindow: UInt32 = 16 << 20
    /// SETTINGS_MAX_HEADER_LIST_SIZE, and the limit Postern enforces on received header lists.
    public var maxHeaderListSize: UInt32 = 64 << 10

    public init() {}
}
