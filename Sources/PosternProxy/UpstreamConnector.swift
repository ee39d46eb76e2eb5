import NIOCore
import NIOPosix
import PosternConfig

/// Opens TCP connections to an upstream on a given event loop, with the pipeline the
/// caller asks for. NIO sets TCP_NODELAY on them itself; no other socket option is set.
enum UpstreamConnector {
    static func connect(to upstream: Upstream, on eventLoop: EventLoop,
                        pipeline: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void)
        -> EventLoopFuture<Channel> {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(.nanoseconds(upstream.connectTimeout.nanoseconds))
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
