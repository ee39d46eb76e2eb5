import NIOCore
import NIOPosix
import PosternConfig

/// Checks that every upstream accepts a TCP connection (for `/readyz`).
public enum UpstreamProbe {
    public static func unreachable(_ upstreams: [Upstream], group: EventLoopGroup,
                                   timeout: Duration = .seconds(1)) async -> [String] {
        var failed: [String] = []
        for upstream in upstreams {
            do {
                let channel = try await ClientBootstrap(group: group)
                    .connectTimeout(.nanoseconds(timeout.nanoseconds))
                    .connect(host: upstream.address.host, port: upstream.address.port)
                    .get()
                try? await channel.close()
            } catch {
                failed.append(upstream.name)
            }
        }
        return failed
    }
}
