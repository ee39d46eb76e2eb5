import NIOCore
import NIOPosix
import PosternConfig

/// Opens TCP connections to an upstream on a given event loop, with the pipeline the
/// caller asks for. One place for the socket options every upstream connection gets.
enum UpstreamConnector {
    static func connect(to upstream: Upstream, on eventLoop: EventLoop,
                        pipeline: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void)
        -> EventLoopFuture<Channel> {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(.nanoseconds(upstream.connectTimeout.nanoseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                do {
                    try pipeline(channel.pipeline.syncOperations)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: upstream.address.host, port: upstream.address.port)
    }
}
