import NIOCore

extension SocketAddress {
    /// `127.0.0.1:8080` or `[::1]:8080`, the form the configuration and the logs use.
    public var hostPort: String {
        let ip = ipAddress ?? "?"
        return (ip.contains(":") ? "[\(ip)]" : ip) + ":\(port ?? 0)"
    }
}
