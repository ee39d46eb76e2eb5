import NIOCore
import NIOHTTP1
import PosternConfig
import PosternCore

/// One pooled HTTP/1.1 upstream connection on a channel someone else provides, carrying one
/// request: the fuzzer feeds it a model server's reply on an embedded loop, with no sockets,
/// and checks what the exchange was told. Nothing here is used by `ProxyServer`.
package final class UpstreamReplyHarness {
    private let pool: HTTP1UpstreamPool

    package init(eventLoop: EventLoop, upstream: Upstream) {
        pool = HTTP1UpstreamPool(upstream: upstream, eventLoop: eventLoop)
    }

    /// Sets `channel` (already active) up as the pool does and sends `GET /v1/models` on it.
    package func open(on channel: Channel) throws -> Recorder {
        let connection = HTTP1UpstreamConnection(pool: pool)
        try channel.pipeline.syncOperations.addHTTPClientHandlers()
        try channel.pipeline.syncOperations.addHandler(connection)
        let recorder = Recorder()
        let head = RequestHead(method: "GET", authority: "model", path: "/v1/models")
        connection.assign(HTTP1UpstreamRequest(head: head, endStream: true, delegate: recorder))
        return recorder
    }

    /// What an exchange heard from its upstream, in order.
    package final class Recorder: UpstreamDelegate {
        package enum Event: Equatable { case head(status: Int, endStream: Bool), body(Int), end, failed }
        package private(set) var events: [Event] = []

        func upstreamResponseHead(_ head: ResponseHead, endStream: Bool) {
            events.append(.head(status: head.status, endStream: endStream))
        }
        func upstreamResponseBody(_ data: ByteBuffer) { events.append(.body(data.readableBytes)) }
        func upstreamResponseEnd(trailers: HeaderList?) { events.append(.end) }
        func upstreamFailed(_ error: CallerError) { events.append(.failed) }
        func upstreamCreditRequestBody(_ bytes: Int) {}
    }
}
