import NIOCore
import PosternConfig

/// Opens request streams to one upstream from one event loop.
protocol UpstreamClient: AnyObject {
    var upstream: Upstream { get }
    func open(_ head: RequestHead, endStream: Bool, delegate: UpstreamDelegate) -> UpstreamStream
    /// Closes idle connections; used on shutdown.
    func closeIdle()
}

import PosternApprovals
import PosternCore
import PosternIdentity
import PosternMasking
import PosternPolicy
import PosternTLS

/// Everything an exchange needs, for one event loop: the configuration, that loop's
/// upstream connections, and the request log. Confined to its event loop (no locks).
final class LoopServices {
    let eventLoop: EventLoop
    private(set) var config: PosternConfig
    let log: RequestLogBuffer
    let sweeper: DeadlineSweeper
    let requestIDs = RequestIDGenerator()
    private(set) var upstreams: [String: UpstreamClient] = [:]
    /// The routes with their clients and masking policies, rebuilt with the configuration.
    private(set) var routes: [LoopRoute] = []
    /// The newest credential set; replaced on this loop when files are reloaded.
    var credentials: Credentials
    var verifiedTokens = VerifiedTokenCache()
    /// Identities and credentials revoked by the operators, checked on every request.
    var revocations = RevocationList()
    /// Where requests that need approval wait, and find their grants.
    var approvals: ApprovalDesk?
    /// Masking policies by name, built at start-up and on reload.
    private(set) var maskingPolicies: [String: MaskingPolicy]
    /// The caller fields that never reach the model server.
    private(set) var callerClaims: CallerClaims
    /// Classify and authorize, when `functions` are configured.
    private(set) var authorize: AuthorizeStep?

    init(eventLoop: EventLoop, config: PosternConfig, credentials: Credentials, masking: [String: MaskingPolicy],
         log: RequestLog) {
        self.eventLoop = eventLoop
        self.config = config
        self.maskingPolicies = masking
        self.callerClaims = Self.callerClaims(config)
        self.authorize = Self.authorizeStep(config)
        self.credentials = credentials
        self.log = RequestLogBuffer(log: log, eventLoop: eventLoop)
        self.sweeper = DeadlineSweeper(eventLoop: eventLoop)
        for upstream in config.upstreams {
            switch upstream.wireProtocol {
            case .http1: upstreams[upstream.name] = HTTP1UpstreamPool(upstream: upstream, eventLoop: eventLoop)
            case .h2c: upstreams[upstream.name] = HTTP2UpstreamClient(upstream: upstream, eventLoop: eventLoop,
                                                                      limits: config.limits)
            }
        }
        routes = LoopRoute.table(config, clients: upstreams, policies: masking)
    }
}

extension LoopServices {
    /// A reloaded configuration (its reloadable sections) for every request from now on;
    /// upstream connections and listeners stay as they are.
    func reconfigure(_ config: PosternConfig, masking: [String: MaskingPolicy], credentials: Credentials) {
        self.config = config
        self.maskingPolicies = masking
        self.routes = LoopRoute.table(config, clients: upstreams, policies: masking)
        self.callerClaims = Self.callerClaims(config)
        self.authorize = Self.authorizeStep(config)
        self.credentials = credentials
    }

    /// A caller's value of a header that carries a function's credential never passes.
    private static func callerClaims(_ config: PosternConfig) -> CallerClaims {
        CallerClaims(adding: config.forwarding.claimPatterns + config.policy.upstreamCredentials.values.map(\.header))
    }

    private static func authorizeStep(_ config: PosternConfig) -> AuthorizeStep? {
        config.policy.isEnforced ? AuthorizeStep(policy: config.requestPolicy()) : nil
    }
}

/// The per-loop services of every event loop, looked up by the loop a connection runs on.
final class ServicesByLoop: @unchecked Sendable {
    // Written once before any connection is accepted, read-only afterwards; each
    // `LoopServices` is then only touched from its own loop.
    private let byLoop: [ObjectIdentifier: LoopServices]

    init(group: EventLoopGroup, config: PosternConfig, credentials: Credentials, masking: [String: MaskingPolicy],
         log: RequestLog) {
        var byLoop: [ObjectIdentifier: LoopServices] = [:]
        for loop in group.makeIterator() {
            byLoop[ObjectIdentifier(loop)] = LoopServices(eventLoop: loop, config: config, credentials: credentials,
                                                          masking: masking, log: log)
        }
        self.byLoop = byLoop
    }

    func services(for loop: EventLoop) -> LoopServices {
        loop.preconditionInEventLoop()
        return byLoop[ObjectIdentifier(loop)]!
    }

    /// Runs `body` on every loop with that loop's services, and waits for all of them.
    func onEveryLoop(_ body: @escaping @Sendable (LoopServices) -> Void) async {
        for services in byLoop.values {
            let loop = services.eventLoop
            try? await loop.submit { body(self.services(for: loop)) }.get()
        }
    }
}
