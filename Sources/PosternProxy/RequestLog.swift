#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOConcurrencyHelpers
import NIOCore
import PosternAudit
import PosternCore
import PosternIdentity
import PosternMasking
import PosternPolicy

/// The request record: one per finished exchange (and one per refused connection), in
/// the audit schema (docs/audit.md). With an audit trail configured the records are its
/// leaves (and copied to standard output when `runtime.request_log` is on); without one,
/// they are JSON lines on standard output for collectors to ship.
///
/// Shared by all event loops; each loop batches its records in a `RequestLogBuffer` and
/// hands them over once per loop tick, and always before its callers' writes are flushed,
/// so a record is written before the response it describes completes.
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
        /// Events of a streamed answer that no stream format describes, masked each on its
        /// own (a value split across two of them is not caught).
        var maskedPerEvent = 0
        /// What classification found and what authorization decided, when it ran.
        var operation: Operation?
        var decision: Decision?
        var shadowDecision: Decision?
        var peer: String?
        var traceparent: String?
        /// From the start of the exchange to the upstream's response head.
        var upstreamHeadNanos: Int64?
        var approvalID: String?
        var grantID: String?
        /// SHA-256 of the exchange's session recording, when one was kept.
        var recording: String?
    }

    /// Records on standard output.
    let enabled: Bool
    let audit: AuditLog?
    var records: Bool { enabled || audit != nil }
    private let lock = NIOLock()
    /// Connection-level events by name, for the metrics (counted with the log off too).
    let eventCounts = NIOLockedValueBox<[String: Int]>([:])

    init(enabled: Bool, audit: AuditLog? = nil) {
        self.enabled = enabled
        self.audit = audit
    }

    /// False while the audit sink fails: requests are then refused, as none could be recorded.
    var isRecording: Bool { audit?.isWriting ?? true }

    /// Writes one entry at once (outside the data path: standalone errors).
    func write(_ entry: Entry) {
        guard records else { return }
        var batch = AuditBatch()
        Self.encode(entry, into: &batch)
        write(batch)
    }

    /// Something that happened to a connection before any request (a refused TLS
    /// handshake, a connection that could not be set up), written at once.
    func connectionEvent(_ event: String, outcome: String, peer: String, detail: String) {
        eventCounts.withLockedValue { $0[event, default: 0] += 1 }
        guard records else { return }
        var batch = AuditBatch()
        batch.add(AuditRecord(kind: "connection").string("event", event).string("peer", peer)
            .string("outcome", outcome).string("detail", detail).bytes)
        write(batch)
    }

    /// Hands records to the audit trail, or writes them as lines, under a lock so lines
    /// from several loops never interleave.
    /// False when the audit trail could not take the records (they are held for later).
    @discardableResult
    func write(_ batch: AuditBatch, recordings: AuditBatch = AuditBatch()) -> Bool {
        if let audit { return audit.append(batch, recordings: recordings) }
        var lines: [UInt8] = []
        lines.reserveCapacity(batch.bytes.count + batch.count)
        var start = 0
        for end in batch.ends {
            lines.append(contentsOf: batch.bytes[start..<end])
            lines.append(0x0A)
            start = end
        }
        lock.withLock { FileDescriptor.writeAll(1, lines) }
        return true
    }

    /// `kind` is `request` for the one record every exchange gets at its end, and
    /// `request.start` for the extra record of a long stream as it begins.
    static func encode(_ entry: Entry, kind: StaticString = "request", into batch: inout AuditBatch) {
        batch.openRecord(kind: kind, at: AuditClock.now())
        batch.member("request_id", entry.requestID)
        batch.member("peer", entry.peer)
        batch.member("traceparent", entry.traceparent)
        batch.member("method", entry.method)
        batch.member("path", entry.path)
        if let principal = entry.principal {
            batch.member("principal", principal.id)
            batch.member("auth", principal.source.rawValue)
            batch.member("trust_domain", principal.trustDomain?.name)
            batch.member("issuer", principal.issuer)
            batch.member("credential_id", principal.credentialID)
            batch.member("credential_expiry", principal.expiry)
        }
        if let operation = entry.operation {
            batch.member("function", operation.function)
            batch.member("operation", operation.name)
            batch.member("model", operation.model)
            batch.member("model_version", operation.version)
        }
        if let decision = entry.decision {
            batch.member("decision", decision.outcome.rawValue)
            batch.member("rule", decision.rule)
        }
        if let shadow = entry.shadowDecision {
            batch.member("shadow_decision", shadow.outcome.rawValue)
            batch.member("shadow_rule", shadow.rule)
        }
        batch.member("approval", entry.approvalID)
        batch.member("grant", entry.grantID)
        batch.member("recording_sha256", entry.recording)
        batch.member("upstream", entry.upstream)
        batch.member("status", entry.status)
        batch.member("grpc_status", entry.grpcStatus)
        batch.member("bytes_in", entry.bytesIn)
        batch.member("bytes_out", entry.bytesOut)
        batch.member("duration_ms", millisFromNanos: entry.durationNanos)
        if let head = entry.upstreamHeadNanos { batch.member("upstream_head_ms", millisFromNanos: head) }
        if !entry.masked.isEmpty {
            batch.member("masked", counts: entry.masked.map { ($0.key.rawValue, $0.value) }.sorted { $0.0 < $1.0 })
        }
        if entry.maskedPerEvent > 0 { batch.member("masked_per_event", entry.maskedPerEvent) }
        batch.member("outcome", entry.outcome)
        batch.member("detail", entry.detail)
        batch.closeObject()
    }
}

/// One event loop's pending records, handed over once per loop tick and before any of
/// the loop's caller connections flushes.
final class RequestLogBuffer {
    private let log: RequestLog
    private let eventLoop: EventLoop
    private var pending = AuditBatch()
    private var pendingRecordings = AuditBatch()
    /// Whether a pending record is of a request that was served (not refused).
    private var pendingServed = false
    private var scheduled = false
    /// Set for the rest of the loop tick in which the records of served requests could not
    /// be written: the connections flushing in it are closed instead, so that no answer
    /// whose record is not in the trail completes.
    private(set) var withholdsResponses = false
    /// Counted whether or not the log is written.
    var metrics = LoopMetrics()

    init(log: RequestLog, eventLoop: EventLoop) {
        self.log = log
        self.eventLoop = eventLoop
    }

    var isRecording: Bool { log.isRecording }
    var isAudited: Bool { log.audit != nil }
    var hasPending: Bool { !pending.isEmpty }

    func write(_ entry: RequestLog.Entry, recording: [UInt8]? = nil) {
        metrics.count(entry)
        guard log.records else { return }
        if let recording { pendingRecordings.add(recording) }
        if entry.outcome == "ok" { pendingServed = true }
        RequestLog.encode(entry, into: &pending)
        scheduleFlush()
    }

    /// The start of a long stream (not counted in the metrics: its end will be).
    func writeStart(_ entry: RequestLog.Entry) {
        guard log.records else { return }
        RequestLog.encode(entry, kind: "request.start", into: &pending)
        scheduleFlush()
    }

    private func scheduleFlush() {
        guard !scheduled else { return }
        scheduled = true
        eventLoop.assumeIsolated().execute { [self] in flush() }
    }

    func connectionEvent(_ event: String, outcome: String, peer: String, detail: String) {
        flush()  // keep the order of records
        log.connectionEvent(event, outcome: outcome, peer: peer, detail: detail)
    }

    func flush() {
        scheduled = false
        guard !pending.isEmpty else { return }
        if !log.write(pending, recordings: pendingRecordings), pendingServed, !withholdsResponses {
            withholdsResponses = true
            eventLoop.assumeIsolated().execute { [self] in withholdsResponses = false }  // after this tick's flushes
        }
        pending.removeAll()
        pendingRecordings.removeAll()
        pendingServed = false
    }
}
