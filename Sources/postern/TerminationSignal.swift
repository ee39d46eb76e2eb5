import Dispatch
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT, caught from start-up on: a signal that arrives while Postern still
/// waits for its credentials ends the wait; one that arrives while serving starts the drain.
final class TerminationSignal: Sendable {
    private struct State {
        var name: String?
        var waiter: CheckedContinuation<String, Never>?
    }

    private let state = NIOLockedValueBox(State())
    /// The dispatch sources live as long as the process; one instance is made, at start-up.
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    init() {
        let queue = DispatchQueue(label: "postern.signals")
        var installed: [DispatchSourceSignal] = []
        for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [state] in
                let waiter: CheckedContinuation<String, Never>? = state.withLockedValue { state in
                    guard state.name == nil else { return nil }
                    state.name = name
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume(returning: name)
            }
            source.resume()
            installed.append(source)
        }
        Self.sources = installed
    }

    /// The signal received so far, if any.
    var received: String? { state.withLockedValue { $0.name } }

    /// Returns once a signal has arrived (at once if one already has).
    func wait() async -> String {
        await withCheckedContinuation { continuation in
            let name: String? = state.withLockedValue { state in
                if state.name == nil { state.waiter = continuation }
                return state.name
            }
            if let name { continuation.resume(returning: name) }
        }
    }
}
