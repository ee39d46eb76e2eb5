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
    /// The caller's Kubernetes namespace, from a SPIFFE ID of the form `…/ns/NS/sa/SA`.
    public var namespaces: Set<String> = []

    public init(name: String, effect: Effect) {
        self.name = name
        self.effect = effect
    }

    func applies(to caller: CallerFacts, _ operation: Operation) -> Bool {
        if !callers.isEmpty, !callers.contains(where: { $0.covers(caller.id) }) { return false }
        if !functions.isEmpty, !functions.contains(operation.function) { return false }
        if !operations.isEmpty, !operations.contains(operation.name) { return false }
        if !namespaces.isEmpty, !caller.namespace.map(namespaces.contains).orFalse { return false }
        if !models.isEmpty {
            // A rule about models does not apply to a request that names none.
            guard let model = operation.model, models.contains(where: { Glob.matches($0, model) }) else { return false }
        }
        return true
    }
}

extension Optional where Wrapped == Bool {
    var orFalse: Bool { self ?? false }
}

/// `*` matches any run of characters; everything else matches itself.
enum Glob {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.utf8), t = Array(text.utf8)
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
