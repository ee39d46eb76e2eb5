#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// What became of the connections the data listener accepted: set up (a codec or the TLS
/// layer installed) or closed during set-up. `/readyz` reads it through a real connection
/// (`ProxyServer.selfCheck`), because a listener that accepts in the kernel and then
/// closes every connection in user space looks healthy to a TCP probe.
final class ListenerHealth: Sendable {
    struct Counts: Equatable {
        var setUp: UInt64 = 0
        var failed: UInt64 = 0
        var lastFailure: String?
    }

    private let counts = NIOLockedValueBox(Counts())

    var current: Counts { counts.withLockedValue { $0 } }

    func setUp() {
        counts.withLockedValue { $0.setUp += 1 }
    }

    func failed(_ reason: String) {
        counts.withLockedValue {
            $0.failed += 1
            $0.lastFailure = reason
        }
    }
}

/// Sits on the listening channel behind NIO's accept handler, which reports there what
/// went wrong with an accepted socket (a socket option refused, an accept error): those
/// are logged and counted, never silent.
final class AcceptFailureLogger: ChannelInboundHandler {
    typealias InboundIn = Channel

    private let health: ListenerHealth
    private let log: RequestLog
    /// Failures not logged one by one while accepting is paused.
    private var suppressed = 0
    private var paused = false
    /// How long accepting rests when the process is out of descriptors.
    static let pause = TimeAmount.milliseconds(100)

    init(health: ListenerHealth, log: RequestLog) {
        self.health = health
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let reason = "accepted connection could not be set up: \(error)"
        health.failed(reason)
        guard !paused else {
            suppressed += 1
            return
        }
        log.connectionEvent("connection_setup_failed", outcome: "setup_failed", peer: "-", detail: reason)
        guard let io = error as? IOError, io.errnoCode == EMFILE || io.errnoCode == ENFILE || io.errnoCode == ENOBUFS
                || io.errnoCode == ENOMEM else { return }
        // Out of descriptors (or memory): accepting again at once fails again at once, a busy
        // loop that floods the log. Rest the listener a moment; connections wait in the backlog.
        paused = true
        let channel = context.channel
        channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        context.eventLoop.assumeIsolated().scheduleTask(in: Self.pause) { [self] in
            paused = false
            if suppressed > 0 {
                log.connectionEvent("connection_setup_failed", outcome: "setup_failed", peer: "-",
                                    detail: "\(suppressed) more while accepting rested: \(reason)")
                suppressed = 0
            }
            channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        }
    }
}
