import PosternCore
import PosternPolicy

/// Postern's whole configuration, validated. Built once at start-up (or reload) and shared.
///
/// Keys of the YAML file (every one optional unless said otherwise):
/// - `listen.address`: `HOST:PORT` the data path listens on (default `0.0.0.0:8443`).
/// - `listen.tls`: see `TLSSettings`; without it the listener speaks cleartext.
/// - `identity`: see `IdentitySettings`.
/// - `admin.address`: `HOST:PORT` of the admin listener (default `127.0.0.1:9901`);
///   `admin.operators`: who may use its API (with a short-lived bearer token).
/// - `health.address`: `HOST:PORT` of a probe-only listener (`/healthz`, `/readyz`, `/metrics`).
/// - `upstreams`: map of name to `{url: http://host:port | h2c://host:port, connect_timeout,
///   response_timeout, max_connections, max_idle_connections, idle_timeout}`. At least one
///   upstream is required.
/// - `routes`: list of `{prefix, upstream, public, masking}`, first match wins (a prefix
///   covers whole segments, any ASCII case, of the normalised path); without routes,
///   everything goes to the only upstream (or to the one called `default`). Only a route
///   marked `public: true` serves callers without a verified identity.
/// - `forwarding`: see `ForwardingSettings`.
/// - `profiles`, `operations`, `functions`, `rules`, `shared_callers`: see `PolicySettings`.
/// - `runtime.event_loop_threads`: 0 (default) means one per core.
/// - `runtime.request_log`: one JSON line per request on standard output (default true).
/// - `runtime.log_format`: `text` (default) or `json` for start-up, reload and shutdown
///   messages on standard error (JSON lines with `ts`, `level`, `message`).
/// - `limits`: see `Limits`.
/// - `audit`: see `AuditConfig`.
public struct PosternConfig: Sendable, Equatable {
    public var listen: HostPort = HostPort(host: "0.0.0.0", port: 8443)
    public var tls: TLSSettings?
    public var identity = IdentitySettings()
    /// Masking policies by name; `default` applies to routes that name none.
    public var masking: [MaskingSettings] = []
    public var admin: HostPort = HostPort(host: "127.0.0.1", port: 9901)
    /// Who may use the admin API (revocations): identities, `spiffe://td/path/*` patterns,
    /// `group:NAME`; never a caller of a function.
    public var adminOperators: [CallerPattern] = []
    /// `admin.tls`: the admin listener speaks TLS with `listen.tls`'s certificate, and an
    /// operator may prove itself with its X.509-SVID instead of a token.
    public var adminTLS = false
    /// A listener for probes and scrapes only (`/healthz`, `/readyz`, `/metrics`), so the
    /// admin API can stay on loopback while the kubelet reaches the pod IP.
    public var health: HostPort?
    public var upstreams: [Upstream] = []
    public var routes: [Route] = []
    public var forwarding = ForwardingSettings()
    public var policy = PolicySettings()
    public var eventLoopThreads: Int = 0
    public var requestLog = true
    public var logFormat = LogFormat.text
    public var limits = Limits()
    /// The audit trail; without it, request records go to standard output only.
    public var audit: AuditConfig?
    /// The webhook told of approvals (nil: none).
    public var announcements: AnnouncementConfig?
    /// Where approvals, grants and revocations are kept (nil: in memory).
    public var store: StoreConfig?

    public init() {}

    public func upstream(named name: String) -> Upstream? {
        upstreams.first { $0.name == name }
    }
}

/// How Postern writes its own messages on standard error.
public enum LogFormat: String, Sendable, CaseIterable { case text, json }

/// A model server port Postern forwards to.
public struct Upstream: Sendable, Equatable {
    public enum WireProtocol: String, Sendable { case http1, h2c }

    public var name: String
    public var wireProtocol: WireProtocol
    public var address: HostPort
    public var connectTimeout: Duration = .seconds(5)
    /// Time from the end of the request head to the upstream's response head (504 after).
    public var responseTimeout: Duration = .seconds(60)
    /// HTTP/1.1 connections kept open for reuse, per event loop.
    public var maxIdleConnections: Int = 64
    /// HTTP/1.1 connections open at once, per event loop; more requests wait for one.
    public var maxConnections: Int = 1024
    /// A pooled HTTP/1.1 connection idle this long is closed rather than reused. Below the
    /// keep-alive timeouts model servers use (uvicorn: 5 s), so Postern never sends a
    /// request on a connection the server is closing at that moment.
    public var idleTimeout: Duration = .seconds(4)

    public init(name: String, wireProtocol: WireProtocol, address: HostPort) {
        self.name = name
        self.wireProtocol = wireProtocol
        self.address = address
    }
}

/// Sends requests whose normalised path lies under `prefix` (whole segments) to `upstream`.
public struct Route: Sendable, Equatable {
    public var prefix: String
    public var upstream: String
    /// Served without a verified identity (e.g. health probes); off unless said so.
    public var isPublic: Bool
    /// The masking policy for responses on this route: a name from `masking`, `none`, or
    /// nil for the `default` policy (if there is one).
    public var masking: String?

    public init(prefix: String, upstream: String, isPublic: Bool = false) {
        self.prefix = prefix
        self.upstream = upstream
        self.isPublic = isPublic
    }
}

/// Resource limits. Exceeding one gets the caller a clear error; others keep being served.
///
/// YAML keys under `limits`: `max_header_list_size`, `max_request_body` (0: unlimited),
/// `max_inspected_body` (the most of a request body held to decide on it),
/// `max_concurrent_streams`, `max_connections`, `header_read_timeout`, `idle_timeout`,
/// `stream_idle_timeout`, `drain_grace_period`, `stream_window`, `connection_window`,
/// `reset_burst`, `reset_rate` (streams reset per connection, per second).
public struct Limits: Sendable, Equatable {
    public var maxHeaderListSize = 64 << 10
    public var maxRequestBody = 64 << 20
    /// A body a rule or guard reads (its model, its parameters) is held whole up to this.
    public var maxInspectedBody = 1 << 20
    public var maxConcurrentStreams = 256
    public var maxConnections = 10_000
    /// A caller must send a complete request head within this (slowloris).
    public var headerReadTimeout: Duration = .seconds(10)
    /// A connection with no request in flight is closed after this.
    public var idleTimeout: Duration = .seconds(300)
    /// A request or response body that moves no byte for this long is reset.
    public var streamIdleTimeout: Duration = .seconds(300)
    /// On SIGTERM, in-flight requests get this long to finish.
    public var drainGracePeriod: Duration = .seconds(20)
    /// HTTP/2 receive windows: the most a peer may have in flight per stream / connection.
    public var streamWindow = 1 << 20
    public var connectionWindow = 16 << 20
    /// Streams Postern may reset on one HTTP/2 connection: a burst, refilled per second
    /// (nghttp2's own defaults for the resets it receives); past it, GOAWAY.
    public var resetBurst = 1000
    public var resetRate = 33

    public init() {}
}

/// An address to listen on or connect to.
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
