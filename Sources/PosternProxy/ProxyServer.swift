import NIOConcurrencyHelpers
import NIOCore
import PosternAudit
import NIOPosix
import PosternApprovals
import PosternConfig
import PosternMasking
import PosternCore
import PosternTLS

/// The data-path listener: accepts callers, sniffs their protocol, and runs exchanges on
/// the event loop that accepted them, against that loop's upstream connections.
public final class ProxyServer: Sendable {
    private let config: PosternConfig
    private let group: EventLoopGroup
    private let services: ServicesByLoop
    private let registry: ConnectionRegistry
    private let health = ListenerHealth()
    private let log: RequestLog
    private let serverChannel = NIOLockedValueBox<Channel?>(nil)

    public init(config: PosternConfig, credentials: Credentials, masking: [String: MaskingPolicy], group: EventLoopGroup,
                requestLog: Bool = true, audit: AuditLog? = nil) {
        self.config = config
        self.group = group
        self.log = RequestLog(enabled: requestLog, audit: audit)
        self.services = ServicesByLoop(group: group, config: config, credentials: credentials, masking: masking,
                                       log: log)
        self.registry = ConnectionRegistry(limit: config.limits.maxConnections)
    }

    /// Binds the listener and returns the address it is bound to.
    ///
    /// Socket options: only `SO_REUSEADDR` on the listener. NIO already sets TCP_NODELAY
    /// (at `IPPROTO_TCP`) on every socket it opens; options at other levels may need
    /// capabilities Postern does not have as a non-root container.
    public func start() async throws -> SocketAddress {
        let services = self.services
        let registry = self.registry
        let health = self.health
        let log = self.log
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                do {
                    try Self.setUp(channel, services: services, registry: registry)
                    health.setUp()
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    let reason = "accepted connection could not be set up: \(error)"
                    health.failed(reason)
                    log.connectionEvent("connection_setup_failed", outcome: "setup_failed",
                                        peer: channel.remoteAddress?.hostPort ?? "?", detail: reason)
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .bind(host: config.listen.host, port: config.listen.port)
            .get()
        // Behind NIO's accept handler, which reports there what failed before our initializer.
        try await channel.pipeline.addHandler(AcceptFailureLogger(health: health, log: log))
        serverChannel.withLockedValue { $0 = channel }
        return channel.localAddress!
    }

    private static func setUp(_ channel: Channel, services: ServicesByLoop, registry: ConnectionRegistry) throws {
        let pipeline = channel.pipeline.syncOperations
        guard registry.admit(channel) else {
            // Over the limit: a short refusal in the caller's protocol, nothing more.
            try pipeline.addHandler(OverLimitResponder())
            return
        }
        let loopServices = services.services(for: channel.eventLoop)
        if let tls = loopServices.credentials.tls, loopServices.config.tls?.cleartext != true {
            let handler = ProtocolSniffer.tlsHandler(tls, channel: channel, services: loopServices)
            try pipeline.addHandler(handler)
            try pipeline.addHandler(ProtocolSniffer(services: loopServices, tls: handler))
        } else {
            // Cleartext, or TLS and cleartext told apart by the first byte.
            try pipeline.addHandler(ProtocolSniffer(services: loopServices, offering: loopServices.credentials.tls))
        }
    }

    /// Whether the listener really serves: opens a connection to it and waits for the
    /// listener to report a connection set up (this one or any other) rather than one
    /// closed at set-up. Nil when it serves, otherwise why not.
    public func selfCheck(timeout: Duration = .seconds(1)) async -> String? {
        guard let bound = serverChannel.withLockedValue({ $0?.localAddress }), let port = bound.port else {
            return "the data listener is not bound"
        }
        let before = health.current
        let host = bound.protocol == .inet6 ? (bound.ipAddress == "::" ? "::1" : bound.ipAddress!)
            : (bound.ipAddress == "0.0.0.0" ? "127.0.0.1" : bound.ipAddress!)
        let probe: Channel
        do {
            probe = try await ClientBootstrap(group: group)
                .connectTimeout(.nanoseconds(timeout.nanoseconds))
                .connect(host: host, port: port).get()
        } catch {
            return "the data listener does not accept connections: \(error)"
        }
        defer { probe.close(promise: nil) }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let now = health.current
            if now.setUp > before.setUp { return nil }
            if now.failed > before.failed {
                return "the data listener closes connections at set-up: \(now.lastFailure ?? "unknown error")"
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return "the data listener did not set up a connection within \(timeout)"
    }

    /// Puts a reloaded credential set in place: new connections use its TLS context,
    /// every request from now on its token validators. Open connections keep going.
    public func update(credentials: Credentials) async {
        await services.onEveryLoop { $0.credentials = credentials }
    }

    /// Puts a reloaded configuration in place, with the masking policies and credentials
    /// built from it: every request from now on is routed, authorized and masked by it.
    public func update(config: PosternConfig, masking: [String: MaskingPolicy], credentials: Credentials) async {
        await services.onEveryLoop { $0.reconfigure(config, masking: masking, credentials: credentials) }
    }

    /// Every loop's counters, summed, in Prometheus's text format.
    public func metrics() async -> String {
        let total = NIOLockedValueBox(LoopMetrics())
        await services.onEveryLoop { services in
            let loop = services.log.metrics
            total.withLockedValue { $0.add(loop) }
        }
        var summed = total.withLockedValue { $0 }
        summed.connectionEvents = log.eventCounts.withLockedValue { $0 }
        return summed.exposition()
    }

    /// The approval desk requests that need approval go to (without one they are refused).
    public func use(approvals: ApprovalDesk) async {
        await services.onEveryLoop { $0.approvals = approvals }
    }

    /// Puts a new revocation list in front of every request, and ends the open exchanges of
    /// every caller it now stops.
    public func update(revocations: RevocationList) async {
        await services.onEveryLoop { services in
            services.revocations = revocations
            var open: [Exchange] = []
            services.sweeper.forEach { if let exchange = $0 as? Exchange { open.append(exchange) } }
            for exchange in open { exchange.endIfRevoked(revocations) }
        }
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
