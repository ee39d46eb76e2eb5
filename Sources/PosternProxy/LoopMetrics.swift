import PosternCore
import PosternMasking

/// Counters of one event loop, kept as requests finish (no lock: confined to the loop),
/// summed across loops when Prometheus scrapes.
struct LoopMetrics {
    struct RequestKey: Hashable {
        var outcome: String
        var function: String
        var decision: String
    }

    struct RequestTotals {
        var count = 0
        var seconds = 0.0
        var bytesIn = 0
        var bytesOut = 0
    }

    var requests: [RequestKey: RequestTotals] = [:]
    var masked: [String: Int] = [:]
    var connectionEvents: [String: Int] = [:]

    mutating func count(_ entry: RequestLog.Entry) {
        let key = RequestKey(outcome: entry.outcome, function: entry.operation?.function ?? "",
                             decision: entry.decision?.outcome.rawValue ?? "")
        // One lookup per request (the hot path): the entry is updated in place.
        Self.add(&requests[key, default: RequestTotals()], count: 1, seconds: Double(entry.durationNanos) / 1e9,
                 bytesIn: entry.bytesIn, bytesOut: entry.bytesOut)
        for (kind, n) in entry.masked { masked[kind.rawValue, default: 0] += n }
    }

    mutating func add(_ other: LoopMetrics) {
        for (key, totals) in other.requests {
            Self.add(&requests[key, default: RequestTotals()], count: totals.count, seconds: totals.seconds,
                     bytesIn: totals.bytesIn, bytesOut: totals.bytesOut)
        }
        for (kind, n) in other.masked { masked[kind, default: 0] += n }
        for (event, n) in other.connectionEvents { connectionEvents[event, default: 0] += n }
    }

    private static func add(_ totals: inout RequestTotals, count: Int, seconds: Double, bytesIn: Int, bytesOut: Int) {
        totals.count += count
        totals.seconds += seconds
        totals.bytesIn += bytesIn
        totals.bytesOut += bytesOut
    }

    /// The Prometheus text exposition format (version 0.0.4).
    func exposition() -> String {
        func label(_ value: String) -> String {
            "\"" + value.replacingBackslashesAndQuotes() + "\""
        }
        var lines: [String] = []
        let series: [(String, String, String, (RequestTotals) -> String)] = [
            ("postern_requests_total", "counter", "Requests finished, by outcome, function and decision.", { String($0.count) }),
            ("postern_request_duration_seconds_total", "counter", "Time spent on requests.", { String($0.seconds) }),
            ("postern_request_bytes_total", "counter", "Request body bytes received.", { String($0.bytesIn) }),
            ("postern_response_bytes_total", "counter", "Response body bytes from upstreams.", { String($0.bytesOut) }),
        ]
        let keys = requests.keys.sorted { ($0.outcome, $0.function, $0.decision) < ($1.outcome, $1.function, $1.decision) }
        for (name, type, help, value) in series {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            for key in keys {
                lines.append("\(name){outcome=\(label(key.outcome)),function=\(label(key.function)),decision=\(label(key.decision))} "
                             + value(requests[key]!))
            }
        }
        lines.append("# HELP postern_masked_values_total Values masked in responses, by kind.")
        lines.append("# TYPE postern_masked_values_total counter")
        for kind in masked.keys.sorted() { lines.append("postern_masked_values_total{kind=\(label(kind))} \(masked[kind]!)") }
        lines.append("# HELP postern_connection_events_total Connection-level events (set-up failures, floods).")
        lines.append("# TYPE postern_connection_events_total counter")
        for event in connectionEvents.keys.sorted() {
            lines.append("postern_connection_events_total{event=\(label(event))} \(connectionEvents[event]!)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension String {
    func replacingBackslashesAndQuotes() -> String {
        var out = ""
        for character in self {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}
