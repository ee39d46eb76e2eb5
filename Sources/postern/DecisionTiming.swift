import PosternConfig
import PosternPolicy

/// `postern explain --repeat N`: the cost of the data path's classify and authorize steps
/// for one request, built once as the data path builds them, then run N times.
enum DecisionTiming {
    static func report(_ config: PosternConfig, caller: String, method: String, path: String, count: Int) {
        let classifier = config.policy.classifier()
        let authorizer = config.policy.authorizer()
        let bare = Substring(path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        let method = method.uppercased()
        var allowed = 0
        let started = ContinuousClock.now
        for _ in 0..<count {
            guard let operation = classifier.classify(method: method, path: bare) else { continue }
            if authorizer.decide(CallerFacts(id: caller), operation).outcome == .allow { allowed += 1 }
        }
        let nanos = Double((ContinuousClock.now - started).nanoseconds) / Double(count)
        Stderr.line("\(count) decisions, \((nanos / 10).rounded() / 100) µs each (\(allowed) allowed)")
    }
}
