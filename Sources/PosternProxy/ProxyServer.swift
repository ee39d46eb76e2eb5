import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PosternConfig
import PosternMasking
import PosternTLS

/// The data-path listener: accepts callers, sniffs their protocol, and runs exchanges on
/// the event loop that accepted them, against that loop's upstream connections.
public final class ProxyServer: Sendable {
    private let config: PosternConfig
    private let group: EventLoopGroup
    private let services: ServicesByLoop
    private let registry: ConnectionRegistry
    private let serverChannel = NIOLockedValueBox<Channel?>(nil)

    public init(config: PosternConfig, credentials: Credentials, masking: [String: MaskingPolicy], group: EventLoopGroup,
                requestLog: Bool = true) {
        self.config = config
        self.group = group
        self.services = ServicesByLoop(group: group, config: config, credentials: credentials, masking: masking,
                                       log: RequestLog(enabled: requestLog))
        self.registry = ConnectionRegistry(limit: config.limits.maxConnections)
    }

    /// Binds the listener and returns the address it is bound to.
    public func start() async throws -> SocketAddress {
        let services = self.services
        let registry = self.registry
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard registry.admit(channel) else {
                    // Over the limit: a short refusal in the caller's protocol, nothing more.
                    do {
                        try channel.pipeline.syncOperations.addHandler(OverLimitResponder())
                        return channel.eventLoop.makeSucceededVoidFuture()
                    } catch {
                        return channel.close()
                    }
                }
                do {
                    let loopServices = services.services(for: channel.eventLoop)
                    let pipeline = channel.pipeline.syncOperations
                    if let tls = loopServices.credentials.tls, loopServices.config.tls?.cleartext != true {
                        let handler = ProtocolSniffer.tlsHandler(tls, channel: channel, services: loopServices)
                        try pipeline.addHandler(handler)
                        try pipeline.addHandler(ProtocolSniffer(services: loopServices, tls: handler))
                    } else {
                        // Cleartext, or TLS and cleartext told apart by the first byte.
                        try pipeline.addHandler(ProtocolSniffer(services: loopServices, offering: loopServices.credentials.tls))
                    }
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .bind(host: config.listen.host, port: config.listen.port)
            .get()
        serverChannel.withLockedValue { $0 = channel }
        return channel.localAddress!
    }

    /// Puts a reloaded credential set in place: new connections use its TLS context,
    /// every request from now on its token validators. Open connections keep going.
    public func update(credentials: Credentials) async {
        await services.onEveryLoop { $0.credentials = credentials }
    }

    /// Graceful shutdown: stop accepting, ask every connection to finish (GOAWAY for
    /// HTTP/2, `Connection: close` for HTTP/1.1), wait up to `grace`, then close the rest.
    public func drain(grace: Duration) async {
        let listener = serverChannel.withLockedValue { $0 }
        try? await listener?.close()
        for channel in registry.channels {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        let deadline = ContinuousClock.now + grace
        while registry.count > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for channel in registry.channels { try? await channel.close() }
        await services.onEveryLoop { services in
            services.closeIdleUpstreams()
            services.log.flush()
        }
    }
}

extension LoopServices {
    func closeIdleUpstreams() {
        for client in upstreams.values { client.closeIdle() }
    }
}
