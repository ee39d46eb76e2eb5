import PosternClient
import PosternConfig

extension ServerAddress {
    /// `HOST:PORT` or `http://HOST:PORT` (cleartext), `https://HOST:PORT` (TLS, needing a CA file).
    static func parse(_ text: String, caFile: String?) -> Result<ServerAddress, UsageError> {
        var rest = Substring(text)
        var tls = false
        if rest.hasPrefix("https://") { rest = rest.dropFirst(8); tls = true } else if rest.hasPrefix("http://") { rest = rest.dropFirst(7) }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard case .success(let hostPort) = ConfigValues.hostPort(String(rest)) else {
            return .failure(UsageError(description: "\(text) is not HOST:PORT, http://HOST:PORT or https://HOST:PORT"))
        }
        guard !tls || caFile != nil else {
            return .failure(UsageError(description: "\(text) needs --ca FILE, the CA its certificate chains to"))
        }
        return .success(ServerAddress(host: hostPort.host, port: hostPort.port, caFile: tls ? caFile : nil))
    }
}
