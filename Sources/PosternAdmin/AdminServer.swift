import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import PosternCore
import PosternTLS

/// The admin listener (default 127.0.0.1): `/healthz` says the process serves,
/// `/readyz` says whether callers should be sent here (both without a credential, for
/// kubelet probes); `/admin/v1/…` is the operators' API (`AdminAPI`).
public final class AdminServer: Sendable {
    /// Answers readiness: nil when ready, otherwise the reason it is not.
    public typealias Readiness = @Sendable () async -> String?

    private let group: EventLoopGroup
    private let readiness: Readiness
    private let api: AdminAPI?
    /// Prometheus's text format for `/metrics`.
    public typealias Metrics = @Sendable () async -> String
    private let metrics: Metrics?
    private let channel = NIOLockedValueBox<Channel?>(nil)

    /// What still works but not fully (say, the approvals store is away): listed by a
    /// ready `/readyz`, which stays ready.
    public typealias Degraded = @Sendable () -> [String]
    private let degraded: Degraded

    /// TLS for each new connection (`admin.tls`): nil from the closure refuses it (the
    /// credentials have not loaded yet).
    public typealias TLS = @Sendable () -> TLSServerContext?
    private let tls: TLS?

    public init(group: EventLoopGroup, api: AdminAPI? = nil, metrics: Metrics? = nil, readiness: @escaping Readiness,
                degraded: @escaping Degraded = { [] }, tls: TLS? = nil) {
        self.tls = tls
        self.group = group
        self.api = api
        self.metrics = metrics
        self.readiness = readiness
        self.degraded = degraded
    }

    public func start(host: String, port: Int) async throws -> SocketAddress {
        let readiness = self.readiness
        let degraded = self.degraded
        let api = self.api
        let metrics = self.metrics
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [tls] channel in
                do {
                    var secured: TLSServerHandler?
                    if let tls {
                        guard let context = tls() else { return channel.close() }
                        let handler = TLSServerHandler(context: context, handshakeTimeout: .seconds(10)) { _ in }
                        try channel.pipeline.syncOperations.addHandler(handler)
                        secured = handler
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(readiness: readiness, degraded: degraded, api: api,
                                                                                      metrics: metrics, tls: secured))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .bind(host: host, port: port)
            .get()
        self.channel.withLockedValue { $0 = channel }
        return channel.localAddress!
    }

    public func stop() async {
        let channel = self.channel.withLockedValue { $0 }
        try? await channel?.close()
    }
}

final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let readiness: AdminServer.Readiness
    private let api: AdminAPI?
    private let metrics: AdminServer.Metrics?
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var bodyTooLarge = false
    static let maxBody = 64 << 10

    private let degraded: AdminServer.Degraded
    /// The connection's TLS, whose verified client certificate names an operator.
    private let tls: TLSServerHandler?

    init(readiness: @escaping AdminServer.Readiness, degraded: @escaping AdminServer.Degraded, api: AdminAPI?,
         metrics: AdminServer.Metrics?, tls: TLSServerHandler? = nil) {
        self.tls = tls
        self.readiness = readiness
        self.degraded = degraded
        self.api = api
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            bodyTooLarge = false
        case .body(let chunk):
            if body.count + chunk.readableBytes > Self.maxBody { bodyTooLarge = true } else { body += chunk.readableBytesView }
        case .end:
            guard let head else { return }
            self.head = nil
            route(context, head)
        }
    }

    private func route(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
        if path.hasPrefix("/admin/") {
            guard let api else {
                respond(context, head, 404, "{\"error\":\"the admin API is not served on this listener\"}")
                return
            }
            guard !bodyTooLarge else {
                respond(context, head, 413, "{\"error\":\"request body over \(Self.maxBody) bytes\"}")
                return
            }
            let (method, authorization, body) = (head.method.rawValue, head.headers["authorization"].first, self.body)
            let peer = context.channel.remoteAddress?.hostPort
            let promise = context.eventLoop.makePromise(of: AdminAPI.Response.self)
            let certified = tls?.peer
            promise.completeWithTask {
                await api.handle(method: method, path: path[...], authorization: authorization, body: body, peer: peer,
                                 certified: certified)
            }
            promise.futureResult.assumeIsolated().whenSuccess { response in
                self.respond(context, head, response.status, response.body)
            }
            return
        }
        guard head.method == .GET || head.method == .HEAD else {
            respond(context, head, 405, "{\"error\":\"method not allowed\"}")
            return
        }
        switch path {
        case "/metrics" where metrics != nil:
            let metrics = self.metrics!
            let promise = context.eventLoop.makePromise(of: String.self)
            promise.completeWithTask { await metrics() }
            promise.futureResult.assumeIsolated().whenSuccess { text in
                self.respond(context, head, 200, text, contentType: "text/plain; version=0.0.4")
            }
        case "/healthz":
            respond(context, head, 200, "{\"status\":\"ok\"}")
        case "/readyz":
            let readiness = self.readiness
            let degraded = self.degraded()
            let promise = context.eventLoop.makePromise(of: String?.self)
            promise.completeWithTask { await readiness() }
            promise.futureResult.assumeIsolated().whenSuccess { reason in
                if let reason {
                    self.respond(context, head, 503, "{\"status\":\"not_ready\",\"reason\":\(JSONText.quote(reason))}")
                } else if degraded.isEmpty {
                    self.respond(context, head, 200, "{\"status\":\"ready\"}")
                } else {
                    let list = degraded.map(JSONText.quote).joined(separator: ",")
                    self.respond(context, head, 200, "{\"status\":\"ready\",\"degraded\":[\(list)]}")
                }
            }
        default:
            respond(context, head, 404, "{\"error\":\"not found\"}")
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: Int, _ body: String,
                         contentType: String = "application/json") {
        let text = body.hasSuffix("\n") ? body : body + "\n"
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(text.utf8.count))
        let head = HTTPResponseHead(version: request.version, status: HTTPResponseStatus(statusCode: status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
