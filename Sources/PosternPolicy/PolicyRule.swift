/// A rule beyond a function's callers: what it applies to, and its effect. Every condition
/// left empty matches anything.
public struct PolicyRule: Sendable, Equatable {
    public enum Effect: String, Sendable, CaseIterable {
        case allow, deny
        /// Allowed once a human approves (approvals come with their own issue).
        case approval
    }

    public var name: String
    public var effect: Effect
    public var callers: [CallerPattern] = []
    public var functions: Set<String> = []
    public var operations: Set<String> = []
    /// Model names, exact or with `*` wildcards (`llama-3-*`).
    public var models: [String] = []
    /// Model versions, exact or with `*` wildcards; a rule about versions does not apply to
    /// a request that names none.
    public var versions: [String] = []
    /// The caller's Kubernetes namespace, from a SPIFFE ID of the form `…/ns/NS/sa/SA`.
    public var namespaces: Set<String> = []
    /// When the rule applies (days and hours at a UTC offset).
    public var times: TimeWindow?
    /// Header values the request must carry (every name, one of its values).
    public var headers: [String: Set<String>] = [:]
    /// The peer address ranges the rule applies to.
    public var sources: [AddressRange] = []

    public init(name: String, effect: Effect) {
        self.name = name
        self.effect = effect
    }
}

/// `*` matches any run of characters; everything else matches itself.
enum Glob {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        matches(Array(pattern.utf8), text)
    }

    /// Without allocating: the pattern is compiled once, the text read where it lies.
    static func matches(_ p: [UInt8], _ text: String) -> Bool {
        if let result = text.utf8.withContiguousStorageIfAvailable({ matches(p, $0) }) { return result }
        return Array(text.utf8).withUnsafeBufferPointer { matches(p, $0) }  // the pointer stays inside
    }

    private static func matches(_ p: [UInt8], _ t: UnsafeBufferPointer<UInt8>) -> Bool {
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] != UInt8(ascii: "*"), p[pi] == t[ti] {
                pi += 1; ti += 1
            } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
                star = pi; mark = ti; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; ti = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}
