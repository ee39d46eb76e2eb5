import Testing
@testable import PosternApprovals

@Suite struct ApprovalMachineTests {
    static let deployer = "spiffe://td/ns/mlops/sa/deployer"
    static let alice = "alice@example.com", bob = "bob@example.com"

    static func pending(_ requirement: ApprovalRequirement = ApprovalRequirement(approvers: [alice, bob, deployer])) -> Approval {
        Approval(id: "a1", requester: deployer, function: "deployment", operation: "model_load", model: "llama",
                 rule: "loads-need-approval", requirement: requirement, digest: "d1", summary: "load llama", createdAt: 1000)
    }

    private func apply(_ event: ApprovalMachine.Event, _ approval: Approval) -> Result<ApprovalMachine.Outcome, ApprovalMachine.Refusal> {
        ApprovalMachine.apply(event, to: approval, grantID: { "g1" })
    }

    @Test func oneApproverApprovesAndABoundGrantIsIssued() throws {
        let outcome = try apply(.approve(by: Self.alice, groups: [], reason: " looks right ", at: 1100), Self.pending()).get()
        #expect(outcome.approval.state == .approved && outcome.approval.verdicts.first?.reason == "looks right")
        let grant = try #require(outcome.grant)
        #expect(grant.holder == Self.deployer && grant.digest == "d1" && grant.expiresAt == 1100 + 900 && grant.usesLeft == 1)
    }

    @Test func theRequesterNeverDecidesItsOwnRequest() {
        // The deployer is an approver of the rule, but not of its own request.
        #expect(apply(.approve(by: Self.deployer, groups: [], reason: "", at: 1100), Self.pending()) == .failure(.selfApproval))
        #expect(apply(.deny(by: Self.deployer, groups: [], reason: "", at: 1100), Self.pending()) == .failure(.selfApproval))
    }

    @Test func nDistinctApproversAndOneDenyRejects() throws {
        let two = Self.pending(ApprovalRequirement(approvers: [Self.alice, Self.bob, "group:sre"], approvalsNeeded: 2))
        let once = try apply(.approve(by: Self.alice, groups: [], reason: "", at: 1100), two).get()
        #expect(once.approval.state == .pending && once.grant == nil)
        #expect(apply(.approve(by: Self.alice, groups: [], reason: "", at: 1101), once.approval) == .failure(.alreadyDecided(Self.alice)))
        let twice = try apply(.approve(by: "carol", groups: ["sre"], reason: "", at: 1102), once.approval).get()
        #expect(twice.approval.state == .approved && twice.grant != nil)
        let denied = try apply(.deny(by: Self.bob, groups: [], reason: "not today", at: 1101), once.approval).get()
        #expect(denied.approval.state == .denied && denied.grant == nil)
        #expect(apply(.approve(by: "carol", groups: ["sre"], reason: "", at: 1102), denied.approval) == .failure(.notPending(.denied)))
    }

    @Test func pendingApprovalsExpire() throws {
        let approval = Self.pending()
        #expect(try apply(.tick(at: 1899), approval).get().approval.state == .pending)
        let expired = try apply(.tick(at: 1900), approval).get().approval
        #expect(expired.state == .expired)
        #expect(apply(.approve(by: Self.alice, groups: [], reason: "", at: 1950), approval) == .failure(.expired))
        #expect(apply(.approve(by: Self.alice, groups: [], reason: "", at: 1950), expired) == .failure(.notPending(.expired)))
    }

    @Test func onlyApproversDecideAndReasonsCanBeRequired() {
        let strict = Self.pending(ApprovalRequirement(approvers: ["spiffe://td/ns/sre/*"], reasonRequired: true))
        #expect(apply(.approve(by: Self.alice, groups: [], reason: "x", at: 1100), strict) == .failure(.notAnApprover(Self.alice)))
        #expect(apply(.approve(by: "spiffe://td/ns/sre/sa/oncall", groups: [], reason: "  ", at: 1100), strict)
                == .failure(.reasonRequired))
        #expect((try? apply(.approve(by: "spiffe://td/ns/sre/sa/oncall", groups: [], reason: "ticket 42", at: 1100), strict)
            .get().approval.state) == .approved)
        // A subject spelled like a group is not in it.
        let groups = Self.pending(ApprovalRequirement(approvers: ["group:sre"]))
        #expect(apply(.approve(by: "group:sre", groups: [], reason: "", at: 1100), groups) == .failure(.notAnApprover("group:sre")))
    }
}

@Suite struct GrantTests {
    static let grant = Grant(id: "g1", approval: "a1", holder: "h", function: "deployment", operation: "model_load",
                             model: "llama", digest: "d1", issuedAt: 1000, expiresAt: 1600, uses: 2)

    @Test func eachUseCountsAndTheTimeLeftIsReal() throws {
        let first = try Self.grant.use(by: "h", function: "deployment", operation: "model_load", model: "llama", digest: "d1", at: 1100).get()
        #expect(first.grant.usesLeft == 1 && first.secondsLeft == 500)
        let second = try first.grant.use(by: "h", function: "deployment", operation: "model_load", model: "llama", digest: "d1", at: 1500).get()
        #expect(second.grant.state(at: 1500) == .exhausted)
        #expect(second.grant.use(by: "h", function: "deployment", operation: "model_load", model: "llama", digest: "d1", at: 1501)
                .map(\.secondsLeft) == .failure(.notActive(.exhausted)))
        #expect(Self.grant.state(at: 1600) == .expired)
        var revoked = Self.grant
        revoked.revoked = true
        #expect(revoked.state(at: 1100) == .revoked)
    }

    @Test(arguments: [
        ("x", "model_load", "llama", "d1", Grant.Mismatch.otherCaller),
        ("h", "model_unload", "llama", "d1", .otherOperation),
        ("h", "model_load", "mistral", "d1", .otherModel),
        ("h", "model_load", "llama", "d2", .otherRequest),
    ])
    func aGrantAdmitsOnlyWhatWasApproved(_ caller: String, _ operation: String, _ model: String, _ digest: String,
                                         _ mismatch: Grant.Mismatch) {
        #expect(Self.grant.use(by: caller, function: "deployment", operation: operation, model: model, digest: digest, at: 1100)
                .map(\.secondsLeft) == .failure(mismatch))
    }
}

@Suite struct RequestDigestTests {
    @Test func theDigestIsOfTheExactRequest() {
        let base = RequestDigest.hex(method: "POST", path: "/v2/repository/models/llama/load",
                                     headers: [("content-type", "application/json"), ("x-env", "prod")], body: Array("{}".utf8))
        #expect(base.count == 64)
        #expect(base == RequestDigest.hex(method: "POST", path: "/v2/repository/models/llama/load",
                                          headers: [("X-Env", "prod"), ("Content-Type", "application/json")], body: Array("{}".utf8)))
        #expect(base != RequestDigest.hex(method: "POST", path: "/v2/repository/models/llama/load",
                                          headers: [("content-type", "application/json"), ("x-env", "prod")], body: Array("{ }".utf8)))
        // Length prefixes: moving bytes between parts changes the digest.
        #expect(RequestDigest.hex(method: "GE", path: "T/x", headers: [], body: [])
                != RequestDigest.hex(method: "GET", path: "/x", headers: [], body: []))
    }
}

@Suite struct RevocationListTests {
    @Test func eachKindStopsItsCallerWhileInForce() {
        let list = RevocationList([
            Revocation(subject: .identity("spiffe://td/ns/app/sa/web"), reason: "leaked", by: "sre", at: 100),
            Revocation(subject: .pattern("spiffe://td/ns/batch/"), reason: "incident", by: "sre", at: 100, until: 200),
            Revocation(subject: .tokenID("jti-1"), reason: "", by: "sre", at: 100),
            Revocation(subject: .certificateSerial("0A1B"), reason: "", by: "sre", at: 100),
        ])
        #expect(list.stopping(identity: "spiffe://td/ns/app/sa/web", tokenID: nil, certificateSerial: nil, at: 150)?.reason == "leaked")
        #expect(list.stopping(identity: "spiffe://td/ns/app/sa/web", tokenID: nil, certificateSerial: nil, at: 50) == nil)
        #expect(list.stopping(identity: "spiffe://td/ns/batch/sa/job", tokenID: nil, certificateSerial: nil, at: 150)?.reason == "incident")
        #expect(list.stopping(identity: "spiffe://td/ns/batch/sa/job", tokenID: nil, certificateSerial: nil, at: 200) == nil)
        #expect(list.stopping(identity: "spiffe://td/ns/batchx/sa/job", tokenID: nil, certificateSerial: nil, at: 150) == nil)
        #expect(list.stopping(identity: "spiffe://td/ns/batch/", tokenID: nil, certificateSerial: nil, at: 150) == nil)
        #expect(list.stopping(identity: "other", tokenID: "jti-1", certificateSerial: nil, at: 150) != nil)
        #expect(list.stopping(identity: "other", tokenID: nil, certificateSerial: "0a1b", at: 150) != nil)
        #expect(list.stopping(identity: "other", tokenID: "jti-2", certificateSerial: "0a1c", at: 150) == nil)
        // A whole trust domain, and nothing outside it.
        let domain = RevocationList([Revocation(subject: .pattern("spiffe://td/"), reason: "td", by: "sre", at: 0)])
        #expect(domain.stopping(identity: "spiffe://td/a/b/c", tokenID: nil, certificateSerial: nil, at: 1)?.reason == "td")
        #expect(domain.stopping(identity: "spiffe://td2/a", tokenID: nil, certificateSerial: nil, at: 1) == nil)
        #expect(domain.stopping(identity: "spiffe://", tokenID: nil, certificateSerial: nil, at: 1) == nil)
    }
}

@Suite struct ApprovalBookTests {
    static let request = ApprovalBook.Request(requester: "d", function: "deployment", operation: "model_load", model: "m",
                                              rule: "r", digest: "x", summary: "load m")
    static let requirement = ApprovalRequirement(approvers: ["a"], pendingTTL: 60, grantTTL: 100, grantUses: 2)

    @Test func askWaitsApproveGrantsAndUsesRunOut() throws {
        var book = ApprovalBook(prefix: "t")
        guard case .pending(let first) = book.ask(Self.request, requirement: Self.requirement, now: 0) else {
            Issue.record("not pending"); return
        }
        #expect(book.ask(Self.request, requirement: Self.requirement, now: 1) == .pending(first))
        var other = Self.request
        other.digest = "y"
        #expect(book.ask(other, requirement: Self.requirement, now: 1) != .pending(first))
        let decided = book.decide(first.id, .approve(by: "a", groups: [], reason: "", at: 10))
        let outcome = try #require(decided).get()
        let grant = try #require(outcome.grant)
        #expect(book.ask(Self.request, requirement: Self.requirement, now: 20) == .granted(grant: grant.id, secondsLeft: 90))
        #expect(book.ask(Self.request, requirement: Self.requirement, now: 30) == .granted(grant: grant.id, secondsLeft: 80))
        guard case .pending(let next) = book.ask(Self.request, requirement: Self.requirement, now: 40) else {
            Issue.record("a used-up grant still admitted"); return
        }
        #expect(next.id != first.id)
        book.expire(now: 200)
        #expect(book.approvals[next.id]?.state == .expired && book.decide("nope", .tick(at: 0)) == nil)
    }

    @Test func aRevokedGrantAdmitsNothing() throws {
        var book = ApprovalBook(prefix: "t")
        guard case .pending(let approval) = book.ask(Self.request, requirement: Self.requirement, now: 0) else { return }
        let decided = book.decide(approval.id, .approve(by: "a", groups: [], reason: "", at: 1))
        let grant = try #require(try decided?.get().grant)
        #expect(book.revokeGrant(grant.id) && !book.revokeGrant("none"))
        guard case .pending = book.ask(Self.request, requirement: Self.requirement, now: 2) else {
            Issue.record("a revoked grant admitted a request"); return
        }
    }
}
