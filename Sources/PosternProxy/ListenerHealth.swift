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
final class AcceptFailureLogger: ChannelInboundHandler, Sendable {
    typealias InboundIn = Channel

    private let health: ListenerHealth
    private let log: RequestLog

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
        log.connectionEvent("connection_setup_failed", outcome: "setup_failed", peer: "-", detail: reason)
    }
}
