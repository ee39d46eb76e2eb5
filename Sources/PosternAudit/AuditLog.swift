#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import PosternCrypto
import Synchronization

/// The audit trail of one replica: records appended as leaves of a Merkle tree, signed
/// checkpoints, rotation, and a sink that may fail. While it fails, `isWriting` is false
/// (the data path then refuses requests), records are held in memory, and each `tick`
/// tries again.
public final class AuditLog: Sendable {
    public let settings: AuditSettings
    private let state: Mutex<AuditWriter>
    private let writing = Atomic<Bool>(true)

    /// Opens the log, continuing the tree of a file left by an earlier run.
    public init(_ settings: AuditSettings, mirror: Int32? = nil,
                clock: @escaping @Sendable () -> Double = AuditClock.now) throws(AuditError) {
        guard NoteVerifierKey.isValidName(settings.origin) else {
            throw .unreadableLog("audit origin \"\(settings.origin)\" cannot name a log (no spaces or '+')")
        }
        self.settings = settings
        state = Mutex(try AuditWriter.open(settings, mirror: mirror, clock: clock))
    }

    /// False while the sink fails: no request may be served, since none could be recorded.
    public var isWriting: Bool { writing.load(ordering: .acquiring) }

    public var status: AuditStatus { state.withLock { $0.status } }

    /// Appends records; false when the sink failed (they are held and written on recovery).
    /// `recordings` (their digests are in the records) are written first.
    @discardableResult
    public func append(_ batch: AuditBatch, recordings: AuditBatch = AuditBatch()) -> Bool {
        guard !batch.isEmpty else { return true }
        return state.withLock { writer in
            let ok = writer.append(batch, recordings: recordings)
            writing.store(writer.failure == nil, ordering: .releasing)
            return ok
        }
    }

    @discardableResult
    public func append(record: some Sequence<UInt8>) -> Bool {
        var batch = AuditBatch()
        batch.add(record)
        return append(batch)
    }

    /// Periodic work, off the event loops: retry a failed sink, group sync, checkpoints,
    /// heartbeats and rotation.
    public func tick() {
        state.withLock { writer in
            writer.tick()
            writing.store(writer.failure == nil, ordering: .releasing)
        }
    }

    /// A last checkpoint (after the caller's stop record) and a sync.
    public func close() {
        state.withLock { writer in writer.close() }
    }
}

/// What the metrics and `/readyz` say about the trail.
public struct AuditStatus: Sendable {
    public var size: UInt64
    public var signedSize: UInt64
    public var lastCheckpointAt: Double
    public var failure: String?
    public var retained: Int
    public var dropped: Int
}

public enum AuditClock {
    /// Wall-clock seconds.
    @Sendable public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Seconds with millisecond precision, as records carry them.
    public static func text(_ seconds: Double) -> String {
        let millis = Int64((seconds * 1000).rounded(.down))
        let fraction = String(millis % 1000)
        return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
