import PosternConfig
import PosternCore
import PosternMasking

/// A configured route as one event loop serves it: its upstream client and masking policy
/// are looked up when the configuration is loaded, not on every request.
final class LoopRoute {
    let route: Route
    /// Nil when the route names an upstream this loop has no client for (no route, then).
    let client: UpstreamClient?
    /// The masking policy that covers the route's answers; nil for `masking: none`.
    let masking: MaskingPolicy?

    init(_ route: Route, config: PosternConfig, clients: [String: UpstreamClient], policies: [String: MaskingPolicy]) {
        self.route = route
        client = clients[route.upstream]
        masking = config.maskingPolicy(for: route).flatMap { policies[$0.name] }
    }

    /// The configuration's routes in order, and the route a configuration without routes
    /// implies (the only upstream, or `default`).
    static func table(_ config: PosternConfig, clients: [String: UpstreamClient],
                      policies: [String: MaskingPolicy]) -> [LoopRoute] {
        let routes = config.routes.isEmpty ? config.route(forPath: "/").map { [$0] } ?? [] : config.routes
        return routes.map { LoopRoute($0, config: config, clients: clients, policies: policies) }
    }
}

extension [LoopRoute] {
    /// The first route whose prefix covers a (normalised) path, as `PosternConfig.route(forPath:)`.
    func route(forPath path: Substring) -> LoopRoute? {
        first { RequestTarget.isPath(path, under: $0.route.prefix) }
    }
}
