#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOConcurrencyHelpers
import NIOCore
import PosternCore
import PosternIdentity
import PosternMasking
import PosternPolicy

/// One JSON line per finished exchange, on standard output, for collectors to ship.
/// The audit trail (hash-chained, tamper-evident) is a separate, later module.
///
/// Shared by all event loops; each loop batches its lines in a `RequestLogBuffer` and
/// hands them over in one `write(2)` per loop tick.
final class RequestLog: Sendable {
    struct Entry {
        var requestID: String
        var method: String
        var path: Substring
        var upstream: String?
        var status: Int
        var grpcStatus: String?
        var bytesIn: Int
        var bytesOut: Int
        var durationNanos: Int64
        var outcome: String
        var detail: String?
        var principal: Principal?
        /// Values masked in the response, by kind.
        var masked: [EntityKind: Int] = [:]
        /// What classification found and what authorization decided, when it ran.
        var operation: Operation?
        var decision: Decision?
        var shadowDecision: Decision?
    }

    let enabled: Bool
    private let lock = NIOLock()
    /// Connection-level events by name, for the metrics (counted with the log off too).
    let eventCounts = NIOLockedValueBox<[String: Int]>([:])

    init(enabled: Bool) { self.enabled = enabled }

    /// Writes one entry at once (outside the data path: standalone errors).
    func write(_ entry: Entry) {
        guard enabled else { return }
        var bytes: [UInt8] = []
        Self.encode(entry, into: &bytes)
        write(bytes)
    }

    /// Something that happened to a connection before any request (a refused TLS
    /// handshake, a connection that could not be set up), written at once.
    func connectionEvent(_ event: String, outcome: String, peer: String, detail: String) {
        eventCounts.withLockedValue { $0[event, default: 0] += 1 }
        guard enabled else { return }
        let line = "{\"ts\":\(Self.now()),\"event\":\(JSONText.quote(event)),\"peer\":\(JSONText.quote(peer)),"
            + "\"outcome\":\(JSONText.quote(outcome)),\"detail\":\(JSONText.quote(detail))}\n"
        write(Array(line.utf8))
    }

    /// Writes whole lines, under a lock, so lines from several loops never interleave.
    func write(_ bytes: [UInt8]) {
        lock.withLock {
            bytes.withUnsafeBufferPointer { buffer in
                var offset = 0
                while offset < buffer.count {
                    let n = Glibc.write(1, buffer.baseAddress! + offset, buffer.count - offset)
                    if n < 0, errno == EINTR { continue }
                    if n <= 0 { break }
                    offset += n
                }
            }
        }
    }

    static func encode(_ entry: Entry, into bytes: inout [UInt8]) {
        var line = "{\"ts\":\(now()),\"request_id\":\(JSONText.quote(entry.requestID))"
        line += ",\"method\":\(JSONText.quote(entry.method)),\"path\":\(JSONText.quote(String(entry.path)))"
        if let principal = entry.principal {
            line += ",\"principal\":\(JSONText.quote(principal.id)),\"auth\":\"\(principal.source.rawValue)\""
            if let domain = principal.trustDomain { line += ",\"trust_domain\":\(JSONText.quote(domain.name))" }
            if let issuer = principal.issuer { line += ",\"issuer\":\(JSONText.quote(issuer))" }
            if let credential = principal.credentialID { line += ",\"credential_id\":\(JSONText.quote(credential))" }
            line += ",\"credential_expiry\":\(principal.expiry)"
        }
        if let operation = entry.operation {
            line += ",\"function\":\(JSONText.quote(operation.function)),\"operation\":\(JSONText.quote(operation.name))"
            if let model = operation.model { line += ",\"model\":\(JSONText.quote(model))" }
            if let version = operation.version { line += ",\"model_version\":\(JSONText.quote(version))" }
        }
        if let decision = entry.decision {
            line += ",\"decision\":\"\(decision.outcome.rawValue)\",\"rule\":\(JSONText.quote(decision.rule))"
        }
        if let shadow = entry.shadowDecision {
            line += ",\"shadow_decision\":\"\(shadow.outcome.rawValue)\",\"shadow_rule\":\(JSONText.quote(shadow.rule))"
        }
        if let upstream = entry.upstream { line += ",\"upstream\":\(JSONText.quote(upstream))" }
        line += ",\"status\":\(entry.status)"
        if let grpc = entry.grpcStatus { line += ",\"grpc_status\":\(JSONText.quote(grpc))" }
        line += ",\"bytes_in\":\(entry.bytesIn),\"bytes_out\":\(entry.bytesOut)"
        line += ",\"duration_ms\":\(Double(entry.durationNanos / 1000) / 1000)"
        if !entry.masked.isEmpty {
            line += ",\"masked\":{" + entry.masked.sorted { $0.key.rawValue < $1.key.rawValue }
                .map { "\"\($0.key.rawValue)\":\($0.value)" }.joined(separator: ",") + "}"
        }
        line += ",\"outcome\":\(JSONText.quote(entry.outcome))"
        if let detail = entry.detail { line += ",\"detail\":\(JSONText.quote(detail))" }
        line += "}\n"
        bytes.append(contentsOf: line.utf8)
    }

    /// Wall-clock seconds with millisecond precision.
    private static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let millis = Int(ts.tv_nsec) / 1_000_000
        let fraction = String(millis)
        return "\(ts.tv_sec)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}

/// One event loop's pending request-log lines, written out once per loop tick.
final class RequestLogBuffer {
    private let log: RequestLog
    private let eventLoop: EventLoop
    private var pending: [UInt8] = []
    private var scheduled = false
    /// Counted whether or not the log is written.
    var metrics = LoopMetrics()

    init(log: RequestLog, eventLoop: EventLoop) {
        self.log = log
        self.eventLoop = eventLoop
    }

    func write(_ entry: RequestLog.Entry) {
        metrics.count(entry)
        guard log.enabled else { return }
        RequestLog.encode(entry, into: &pending)
        guard !scheduled else { return }
        scheduled = true
        eventLoop.assumeIsolated().execute { [self] in flush() }
    }

    func connectionEvent(_ event: String, outcome: String, peer: String, detail: String) {
        flush()  // keep the order of lines
        log.connectionEvent(event, outcome: outcome, peer: peer, detail: detail)
    }

    func flush() {
        scheduled = false
        guard !pending.isEmpty else { return }
        log.write(pending)
        pending.removeAll(keepingCapacity: true)
    }
}
