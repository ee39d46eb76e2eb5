import NIOConcurrencyHelpers
import NIOCore

/// The open caller connections: enforces `max_connections` and lets a drain reach them all.
final class ConnectionRegistry: Sendable {
    private let state = NIOLockedValueBox<[ObjectIdentifier: Channel]>([:])
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Registers a new connection; false when the limit is reached.
    func admit(_ channel: Channel) -> Bool {
        let admitted = state.withLockedValue { channels in
            guard channels.count < limit else { return false }
            channels[ObjectIdentifier(channel)] = channel
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { [weak self] _ in
                self?.state.withLockedValue { _ = $0.removeValue(forKey: ObjectIdentifier(channel)) }
            }
        }
        return admitted
    }

    var count: Int { state.withLockedValue { $0.count } }
    var channels: [Channel] { state.withLockedValue { Array($0.values) } }
}
