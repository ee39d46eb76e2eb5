#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOConcurrencyHelpers
import PosternCore

/// One JSON line per finished exchange, on standard output, for collectors to ship.
/// The audit trail (hash-chained, tamper-evident) is a separate, later module.
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
    }

    let enabled: Bool
    private let lock = NIOLock()

    init(enabled: Bool) { self.enabled = enabled }

    func write(_ entry: Entry) {
        guard enabled else { return }
        var line = "{\"ts\":\(Self.now()),\"request_id\":\(JSONText.quote(entry.requestID))"
        line += ",\"method\":\(JSONText.quote(entry.method)),\"path\":\(JSONText.quote(String(entry.path)))"
        if let upstream = entry.upstream { line += ",\"upstream\":\(JSONText.quote(upstream))" }
        line += ",\"status\":\(entry.status)"
        if let grpc = entry.grpcStatus { line += ",\"grpc_status\":\(JSONText.quote(grpc))" }
        line += ",\"bytes_in\":\(entry.bytesIn),\"bytes_out\":\(entry.bytesOut)"
        line += ",\"duration_ms\":\(Double(entry.durationNanos / 1000) / 1000)"
        line += ",\"outcome\":\(JSONText.quote(entry.outcome))"
        if let detail = entry.detail { line += ",\"detail\":\(JSONText.quote(detail))" }
        line += "}\n"
        // One write(2) per line, under a lock, so lines from several loops never interleave.
        lock.withLock {
            var line = line
            line.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let n = Glibc.write(1, bytes.baseAddress! + offset, bytes.count - offset)
                    if n <= 0 { break }
                    offset += n
                }
            }
        }
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
