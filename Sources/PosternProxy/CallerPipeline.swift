import NIOCore
import PosternConfig
import PosternTLS

/// What the listener sets up on each accepted connection, for a channel and loop someone
/// else provides: the fuzzer drives whole caller connections through it on an embedded
/// loop, with no sockets. Cleartext only; nothing here is used by `ProxyServer`.
package final class CallerPipeline {
    private let services: LoopServices

    package init(eventLoop: EventLoop, config: PosternConfig, credentials: Credentials) {
        services = LoopServices(eventLoop: eventLoop, config: config, credentials: credentials, masking: [:],
                                log: RequestLog(enabled: false))
    }

    package func setUp(_ channel: Channel) throws {
        try channel.pipeline.syncOperations.addHandler(ProtocolSniffer(services: services, offering: nil))
    }
}
