import PosternApprovals

/// `postern-bench approvals [--grants N] [--revocations N] [--repeat N]`: the decision
/// cost with many active grants and revocations, as `bench/run approvals` reports it —
/// the revocation lookup every request makes, and the grant lookup of a request that needs
/// approval — built as the data path holds them (an in-memory snapshot).
func option(_ name: String, _ fallback: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Int(arguments[index + 1])
    else { return fallback }
    return value
}

let grants = option("--grants", 10_000), revocations = option("--revocations", 10_000), repeats = option("--repeat", 1_000_000)
let requirement = ApprovalRequirement(approvers: ["spiffe://td/ns/sre/sa/alice"], pendingTTL: 3600, grantTTL: 86_400,
                                      grantUses: Int.max / 2, bindToRequest: false)
var book = ApprovalBook(prefix: "bench")
for i in 0..<grants {
    let request = ApprovalBook.Request(requester: "spiffe://td/ns/app/sa/caller-\(i)", function: "deployment",
                                       operation: "model_load", model: "m\(i % 50)", rule: "loads", digest: "d\(i)", summary: "")
    guard case .pending(let approval) = book.ask(request, requirement: requirement, now: 0) else { fatalError() }
    _ = book.decide(approval.id, .approve(by: "spiffe://td/ns/sre/sa/alice", groups: [], reason: "", at: 1))
}
let list = RevocationList((0..<revocations).map { i in
    Revocation(subject: i % 3 == 0 ? .tokenID("jti-\(i)") : i % 3 == 1 ? .identity("spiffe://td/ns/old/sa/s\(i)")
                                                                      : .pattern("spiffe://td/ns/gone-\(i)/"),
               reason: "", by: "ops", at: 0)
})

func measure(_ label: String, _ body: (Int) -> Bool) {
    var hits = 0
    let started = ContinuousClock.now
    for i in 0..<repeats where body(i) { hits += 1 }
    let elapsed = ContinuousClock.now - started
    let nanos = (Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9) / Double(repeats)
    print("\(label): \((nanos * 10).rounded() / 10) ns per request (\(hits) of \(repeats) matched)")
}

// The callers' identities and requests are built once: only the lookups are timed.
let callers = (0..<grants).map { "spiffe://td/ns/app/sa/caller-\($0)" }
let tokens = (0..<grants).map { "t\($0)" }
let requests = (0..<grants).map { n in
    ApprovalBook.Request(requester: callers[n], function: "deployment", operation: "model_load", model: "m\(n % 50)",
                         rule: "loads", digest: "any", summary: "")
}
print("\(grants) active grants, \(revocations) revocations")
measure("revocation lookup, caller not revoked") { i in
    list.stopping(identity: callers[i % grants], tokenID: tokens[i % grants], certificateSerial: nil, at: 10) != nil
}
measure("revocation lookup, caller revoked by a pattern") { _ in
    list.stopping(identity: "spiffe://td/ns/gone-2/sa/x", tokenID: nil, certificateSerial: nil, at: 10) != nil
}
measure("grant lookup of a request that needs approval") { i in
    if case .granted = book.ask(requests[i % grants], requirement: requirement, now: 10) { return true }
    return false
}
