import PosternCore
import PosternMasking

/// Counters of one event loop, kept as requests finish (no lock: confined to the loop),
/// summed across loops when Prometheus scrapes. Names and labels follow Prometheus's
/// conventions (and Envoy's and Linkerd's proxy metrics in spirit): totals end in
/// `_total`, durations are seconds, latency is a histogram.
struct LoopMetrics {
    struct RequestKey: Hashable, Comparable {
        var function: String
        var operation: String
        var decision: String
        var outcome: String
        var status: Int

        static func < (a: RequestKey, b: RequestKey) -> Bool {
            (a.function, a.operation, a.decision, a.outcome, a.status) < (b.function, b.operation, b.decision, b.outcome, b.status)
        }
    }

    /// Upper bounds of the latency buckets, in seconds (`+Inf` is the count).
    static let buckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    struct RequestTotals {
        var count = 0
        var seconds = 0.0
        var bytesIn = 0
        var bytesOut = 0
        /// Requests per latency bucket (not cumulative; summed up when exposed).
        var inBucket = [Int](repeating: 0, count: LoopMetrics.buckets.count)
    }

    struct ShadowKey: Hashable, Comparable {
        var function: String
        var decision: String
        var shadow: String
        static func < (a: ShadowKey, b: ShadowKey) -> Bool { (a.function, a.decision, a.shadow) < (b.function, b.decision, b.shadow) }
    }

    var requests: [RequestKey: RequestTotals] = [:]
    var shadow: [ShadowKey: Int] = [:]
    var masked: [String: Int] = [:]
    var connectionEvents: [String: Int] = [:]

    mutating func count(_ entry: RequestLog.Entry) {
        let function = entry.operation?.function ?? ""
        let decision = entry.decision?.outcome.rawValue ?? ""
        let key = RequestKey(function: function, operation: entry.operation?.name ?? "", decision: decision,
                             outcome: entry.outcome, status: entry.status)
        let seconds = Double(entry.durationNanos) / 1e9
        // One lookup per request (the hot path): the entry is updated in place.
        let bucket = Self.buckets.firstIndex(where: { seconds <= $0 })
        Self.add(&requests[key, default: RequestTotals()], count: 1, seconds: seconds,
                 bytesIn: entry.bytesIn, bytesOut: entry.bytesOut, bucket: bucket)
        if let shadowDecision = entry.shadowDecision {
            shadow[ShadowKey(function: function, decision: decision, shadow: shadowDecision.outcome.rawValue), default: 0] += 1
        }
        for (kind, n) in entry.masked { masked[kind.rawValue, default: 0] += n }
    }

    mutating func add(_ other: LoopMetrics) {
        for (key, totals) in other.requests {
            Self.add(&requests[key, default: RequestTotals()], count: totals.count, seconds: totals.seconds,
                     bytesIn: totals.bytesIn, bytesOut: totals.bytesOut)
            for (i, n) in totals.inBucket.enumerated() { requests[key]!.inBucket[i] += n }
        }
        for (key, n) in other.shadow { shadow[key, default: 0] += n }
        for (kind, n) in other.masked { masked[kind, default: 0] += n }
        for (event, n) in other.connectionEvents { connectionEvents[event, default: 0] += n }
    }

    private static func add(_ totals: inout RequestTotals, count: Int, seconds: Double, bytesIn: Int, bytesOut: Int,
                            bucket: Int? = nil) {
        totals.count += count
        totals.seconds += seconds
        totals.bytesIn += bytesIn
        totals.bytesOut += bytesOut
        if let bucket { totals.inBucket[bucket] += 1 }
    }

    /// The Prometheus text exposition format (version 0.0.4).
    func exposition() -> String {
        var text = PrometheusText()
        let keys = requests.keys.sorted()
        func labels(_ key: RequestKey) -> String {
            "function=\(text.label(key.function)),operation=\(text.label(key.operation)),"
                + "decision=\(text.label(key.decision)),outcome=\(text.label(key.outcome)),status=\"\(key.status)\""
        }
        text.family("postern_requests_total", "counter", "Requests finished, by function, operation, decision, outcome and status.")
        for key in keys { text.sample("postern_requests_total", labels(key), requests[key]!.count) }
        text.family("postern_request_duration_seconds", "histogram", "Time from a request's head to its end.")
        for key in keys {
            let totals = requests[key]!
            var cumulative = 0
            for (i, bound) in Self.buckets.enumerated() {
                cumulative += totals.inBucket[i]
                text.sample("postern_request_duration_seconds_bucket", labels(key) + ",le=\"\(bound)\"", cumulative)
            }
            text.sample("postern_request_duration_seconds_bucket", labels(key) + ",le=\"+Inf\"", totals.count)
            text.sample("postern_request_duration_seconds_sum", labels(key), totals.seconds)
            text.sample("postern_request_duration_seconds_count", labels(key), totals.count)
        }
        text.family("postern_request_bytes_total", "counter", "Request body bytes received.")
        for key in keys { text.sample("postern_request_bytes_total", labels(key), requests[key]!.bytesIn) }
        text.family("postern_response_bytes_total", "counter", "Response body bytes sent to callers.")
        for key in keys { text.sample("postern_response_bytes_total", labels(key), requests[key]!.bytesOut) }
        text.family("postern_shadow_decisions_total", "counter", "Requests the shadow rules decided, against what was enforced.")
        for key in shadow.keys.sorted() {
            text.sample("postern_shadow_decisions_total", "function=\(text.label(key.function)),decision=\(text.label(key.decision)),"
                        + "shadow_decision=\(text.label(key.shadow))", shadow[key]!)
        }
        text.family("postern_masked_values_total", "counter", "Values masked in responses, by kind.")
        for kind in masked.keys.sorted() { text.sample("postern_masked_values_total", "kind=\(text.label(kind))", masked[kind]!) }
        text.family("postern_connection_events_total", "counter", "Connections refused before any request, by event.")
        for event in connectionEvents.keys.sorted() {
            text.sample("postern_connection_events_total", "event=\(text.label(event))", connectionEvents[event]!)
        }
        return text.text
    }
}
