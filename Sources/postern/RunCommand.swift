import NIOConcurrencyHelpers
import Dispatch
import NIOCore
import NIOPosix
import PosternAdmin
import PosternConfig
import PosternCore
import PosternProxy
import PosternMasking
import PosternTLS

#if canImport(Glibc)
import Glibc
#endif

/// `postern run`: starts the data path and the admin listener, drains on SIGTERM/SIGINT.
enum RunCommand {
    static func run(config: PosternConfig, credentials: Credentials, masking: [String: MaskingPolicy]) async throws {
        let threads = config.eventLoopThreads > 0 ? config.eventLoopThreads : System.coreCount
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let proxy = ProxyServer(config: config, credentials: credentials, masking: masking, group: group,
                                requestLog: config.requestLog)
        let draining = NIOLockedValueBox(false)
        let admin = AdminServer(group: group) {
            if draining.withLockedValue({ $0 }) { return "draining" }
            if let reason = await proxy.selfCheck() { return reason }
            let down = await UpstreamProbe.unreachable(config.upstreams, group: group)
            return down.isEmpty ? nil : "upstream not answering: " + down.joined(separator: ", ")
        }
        let listenAddress = try await proxy.start()
        let adminAddress = try await admin.start(host: config.admin.host, port: config.admin.port)
        Stderr.line("postern \(Version.current): listening on \(listenAddress.hostPort), admin on \(adminAddress.hostPort), "
            + "\(threads) event loop(s), \(config.tls == nil ? "cleartext" : "TLS"), upstreams: "
            + config.upstreams.map { "\($0.name)=\($0.wireProtocol.rawValue)://\($0.address)" }.joined(separator: " "))
        let watcher = Task {
            var watcher = CredentialWatcher(config: config, current: credentials)
            await watcher.run(apply: { await proxy.update(credentials: $0) }, log: Stderr.line)
        }
        defer { watcher.cancel() }

        let signal = await waitForTerminationSignal()
        Stderr.line("postern: \(signal), draining (grace \(config.limits.drainGracePeriod))")
        draining.withLockedValue { $0 = true }
        await proxy.drain(grace: config.limits.drainGracePeriod)
        await admin.stop()
        try await group.shutdownGracefully()
        Stderr.line("postern: stopped")
    }

    private static func waitForTerminationSignal() async -> String {
        await withCheckedContinuation { continuation in
            let queue = DispatchQueue(label: "postern.signals")
            let once = NIOLockedValueBox(false)
            var sources: [DispatchSourceSignal] = []
            for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler {
                    let first = once.withLockedValue { fired in
                        defer { fired = true }
                        return !fired
                    }
                    if first { continuation.resume(returning: name) }
                }
                source.resume()
                sources.append(source)
            }
            // Keep the sources alive for the life of the process.
            SignalSources.keep(sources)
        }
    }
}

enum SignalSources {
    nonisolated(unsafe) private static var kept: [DispatchSourceSignal] = []
    static func keep(_ sources: [DispatchSourceSignal]) { kept = sources }
}

enum Version {
    static let current = "0.1.0"
}

enum Stderr {
    static func line(_ text: String) {
        var line = text + "\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}
