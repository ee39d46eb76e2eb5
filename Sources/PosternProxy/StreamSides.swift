import NIOCore
import PosternCore

/// The caller's side of one exchange: an HTTP/1.1 connection or one HTTP/2 stream.
/// Everything runs on the event loop that owns the caller's connection.
protocol CallerStream: AnyObject {
    func sendResponseHead(_ head: ResponseHead, endStream: Bool)
    func sendResponseBody(_ data: ByteBuffer)
    func sendResponseEnd(trailers: HeaderList?)
    /// Ends the stream abnormally (RST_STREAM, or closing an HTTP/1.1 connection).
    func resetStream()
    /// `bytes` of the request body have left through the upstream: the caller may send more.
    func creditRequestBody(_ bytes: Int)
    /// The exchange is over; drop references to it.
    func exchangeFinished()
}

/// The model server's side of one exchange: a pooled HTTP/1.1 connection or an h2c stream.
protocol UpstreamStream: AnyObject {
    func sendRequestBody(_ data: ByteBuffer)
    func sendRequestEnd(trailers: HeaderList?)
    /// Abandons the request (RST_STREAM CANCEL, or closing the HTTP/1.1 connection).
    func cancel()
    /// `bytes` of the response body have left through the caller's side: send more.
    func creditResponseBody(_ bytes: Int)
}

/// What an upstream reports to its exchange.
protocol UpstreamDelegate: AnyObject {
    func upstreamResponseHead(_ head: ResponseHead, endStream: Bool)
    func upstreamResponseBody(_ data: ByteBuffer)
    func upstreamResponseEnd(trailers: HeaderList?)
    /// Connect failure, reset, or a malformed reply.
    func upstreamFailed(_ error: CallerError)
    func upstreamCreditRequestBody(_ bytes: Int)
}
