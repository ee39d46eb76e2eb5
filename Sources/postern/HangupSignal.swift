import Dispatch
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP: ask for the configuration to be read again. Counted, so a reload loop that
/// polls sees every signal since its last look.
final class HangupSignal: Sendable {
    private let count = NIOLockedValueBox(0)
    nonisolated(unsafe) private static var source: DispatchSourceSignal?

    init() {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "postern.sighup"))
        source.setEventHandler { [count] in count.withLockedValue { $0 += 1 } }
        source.resume()
        Self.source = source
    }

    var received: Int { count.withLockedValue { $0 } }
}
