#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One audit line as an RFC 5424 syslog message, framed by octet counting (RFC 6587
/// §3.4.1) for TCP. Structured data names the log, the record's index and the newest
/// checkpoint's size, so the SIEM's copy can be checked against the signed log.
public enum SyslogMessage {
    /// Documentation's private enterprise number (RFC 5612) until Postern has its own.
    static let sdID = "postern@32473"

    public static func frame(body: String, kind: String, severity: Int, facility: Int, at seconds: Double,
                             hostname: String, origin: String, index: UInt64, checkpointSize: UInt64) -> [UInt8] {
        let pri = facility * 8 + severity
        let sd = "[\(sdID) origin=\"\(param(origin))\" index=\"\(index)\" checkpoint=\"\(checkpointSize)\"]"
        let message = "<\(pri)>1 \(timestamp(seconds)) \(field(hostname, 255)) postern \(getpid()) \(field(kind, 32)) \(sd) \(body)"
        let bytes = Array(message.utf8)
        return Array("\(bytes.count) ".utf8) + bytes
    }

    /// Severity by outcome: informational when served, warning when refused, error otherwise.
    public static func severity(kind: String, outcome: String?) -> Int {
        switch (kind, outcome) {
        case ("request", "ok"?), ("request", nil): 6
        case ("request", _): 4
        case ("config.rejected", _), ("audit.records_dropped", _): 3
        default: 6
        }
    }

    /// RFC 3339 in UTC with milliseconds, as RFC 5424 §6.2.3 allows.
    static func timestamp(_ seconds: Double) -> String {
        let total = Int64((seconds * 1000).rounded())
        var time = time_t(total / 1000)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let millis = Int(total % 1000)
        let fraction = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
    }

    /// A header field: printable US-ASCII without spaces, at most `limit` characters, or "-".
    static func field(_ value: String, _ limit: Int) -> String {
        let kept = String(value.unicodeScalars.filter { $0.value > 32 && $0.value < 127 }.prefix(limit).map(Character.init))
        return kept.isEmpty ? "-" : kept
    }

    /// An SD-PARAM value with '"', '\' and ']' escaped (RFC 5424 §6.3.3).
    static func param(_ value: String) -> String {
        var out = ""
        for character in value {
            if character == "\"" || character == "\\" || character == "]" { out.append("\\") }
            out.append(character)
        }
        return out
    }
}
