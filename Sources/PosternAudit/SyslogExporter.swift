#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import PosternCore
import PosternCrypto
import PosternJSON
import Synchronization

/// Ships audit lines to a syslog receiver over TCP (RFC 5424, octet-counted), as JSON or
/// OCSF. Best effort by design: the signed file is the record, the SIEM's copy carries
/// what it needs to be checked against it. Lines wait in a bounded queue; a receiver that
/// is down or slow costs dropped exports (counted), never a request.
public final class SyslogExporter: Sendable {
    public enum Format: String, Sendable, CaseIterable { case json, ocsf }

    public let host: String
    public let port: Int
    public let format: Format
    public let facility: Int
    /// TLS to the receiver (RFC 5425): the CA file its certificate must chain to, and the
    /// name it must carry.
    public let tls: (caFile: String, serverName: String)?
    let origin: String
    let hostname: String
    private let state = Mutex(State())
    /// One drain at a time: the periodic one and the last one at close never share the
    /// connection (an SSL object is not for two threads).
    private let sending = Mutex(())
    private static let queueLimit = 100_000

    struct State {
        var queue: [(line: [UInt8], index: UInt64, signed: UInt64)] = []
        var socket: Int32 = -1
        var stream: TLSClientStream?
        var sent = 0
        var dropped = 0
        var lastError: String?
    }

    public init(host: String, port: Int, format: Format, facility: Int = 16,
                tls: (caFile: String, serverName: String)? = nil, origin: String, hostname: String) {
        self.host = host
        self.port = port
        self.tls = tls
        self.format = format
        self.facility = facility
        self.origin = origin
        self.hostname = hostname
    }

    /// Called by the writer for each record it has written (under the log's lock: cheap).
    func enqueue(_ line: ArraySlice<UInt8>, index: UInt64, signedSize: UInt64) {
        state.withLock { state in
            guard state.queue.count < Self.queueLimit else {
                state.dropped += 1
                return
            }
            state.queue.append((Array(line), index, signedSize))
        }
    }

    public var counts: (sent: Int, dropped: Int, pending: Int, error: String?) {
        state.withLock { ($0.sent, $0.dropped, $0.queue.count, $0.lastError) }
    }

    /// Sends what is queued (on the exporter's own thread), reconnecting when needed.
    public func drain() {
        sending.withLock { _ in drainOnce() }
    }

    private func drainOnce() {
        let batch = state.withLock { state -> [(line: [UInt8], index: UInt64, signed: UInt64)] in
            defer { state.queue.removeAll(keepingCapacity: true) }
            return state.queue
        }
        guard !batch.isEmpty else { return }
        var bytes: [UInt8] = []
        for item in batch { bytes += message(item.line, index: item.index, signed: item.signed) }
        var (fd, stream) = state.withLock { ($0.socket, $0.stream) }
        var reason: String?
        if fd < 0 {
            fd = FileDescriptor.connectTCP(host: host, port: port) ?? -1
            if fd < 0 {
                reason = "cannot connect to \(host):\(port)"
            } else if let tls {
                do {
                    stream = try TLSClientStream(fd: fd, serverName: tls.serverName, caFile: tls.caFile)
                } catch {
                    reason = "\(error)"
                }
            }
        }
        if reason == nil {
            let sent = stream.map { $0.write(bytes) } ?? FileDescriptor.sendAll(fd, bytes)
            if !sent { reason = "send failed: \(String(cString: strerror(errno)))" }
        }
        if let reason {
            if fd >= 0 { Glibc.close(fd) }
            state.withLock { state in
                state.socket = -1
                state.stream = nil
                state.lastError = reason
                // Put the batch back in front, within the limit: a brief outage loses nothing.
                let room = max(0, Self.queueLimit - state.queue.count)
                state.dropped += max(0, batch.count - room)
                state.queue = Array(batch.prefix(room)) + state.queue
            }
            return
        }
        state.withLock { state in
            state.socket = fd
            state.stream = stream
            state.sent += batch.count
            state.lastError = nil
        }
    }

    /// A last drain, then the connection closed cleanly (TLS close_notify first).
    public func close() {
        sending.withLock { _ in closeOnce() }
    }

    private func closeOnce() {
        drainOnce()
        let (fd, stream) = state.withLock { state in
            defer { state.socket = -1; state.stream = nil }
            return (state.socket, state.stream)
        }
        stream?.shutdown()
        guard fd >= 0 else { return }
        // Half-close and wait (at most a second) for the receiver to close too: closing
        // with its reply unread would reset the connection and could lose what it has not
        // read yet.
        Glibc.shutdown(fd, Int32(SHUT_WR))
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sink = [UInt8](repeating: 0, count: 4096)
        while sink.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) > 0 {}
        Glibc.close(fd)
    }

    private func message(_ line: [UInt8], index: UInt64, signed: UInt64) -> [UInt8] {
        let fields = RecordFields.timeAndKind(line[...])
        let kind = fields.1 ?? "record"
        let outcome = kind == "request" ? RecordFields.outcome(line) : nil
        let body: String
        switch format {
        case .json: body = String(decoding: line, as: UTF8.self)
        case .ocsf: body = OCSFMapping.event(line, origin: origin, checkpointSize: signed) ?? String(decoding: line, as: UTF8.self)
        }
        return SyslogMessage.frame(body: body, kind: kind, severity: SyslogMessage.severity(kind: kind, outcome: outcome),
                                   facility: facility, at: fields.0 ?? AuditClock.now(), hostname: hostname,
                                   origin: origin, index: index, checkpointSize: signed)
    }

}
