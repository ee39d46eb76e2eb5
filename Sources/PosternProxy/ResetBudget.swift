import NIOCore

/// How many streams Postern may reset on one connection: a token bucket of `burst` resets,
/// refilled at `perSecond`. A client can make a server reset streams itself (a DATA frame
/// beyond content-length, a window overflow: "MadeYouReset", CVE-2025-8671), which
/// nghttp2's limit on the resets it receives does not see; past this budget the connection
/// is closed with GOAWAY (ENHANCE_YOUR_CALM), as patched servers do.
struct ResetBudget {
    let burst: Double
    let perSecond: Double
    private var tokens: Double
    private var refilled: NIODeadline

    init(burst: Int, perSecond: Int, now: NIODeadline = .now()) {
        self.burst = Double(burst)
        self.perSecond = Double(perSecond)
        self.tokens = Double(burst)
        self.refilled = now
    }

    /// Spends `resets`; false once the budget is overdrawn.
    mutating func spend(_ resets: Int, now: NIODeadline = .now()) -> Bool {
        let elapsed = Double((now - refilled).nanoseconds) / 1e9
        tokens = min(burst, tokens + elapsed * perSecond)
        refilled = now
        tokens -= Double(resets)
        return tokens >= 0
    }
}
