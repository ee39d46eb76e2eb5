#if canImport(Glibc)
import Glibc
#endif
import CSQLite
import PosternStore
import Testing
@testable import PosternApprovals

/// Several sidecars in one process sharing one journal: what one does, the others see
/// once they have read the journal, and all agree on the outcome.
@Suite struct SharedJournalTests {
    static let deployer = "spiffe://td/ns/mlops/sa/deployer"
    static let alice = "alice@example.com", bob = "bob@example.com"
    static let request = ApprovalBook.Request(requester: deployer, function: "deployment", operation: "model_load",
                                              model: "llama", rule: "loads", digest: "d1", summary: "load llama")

    /// One sidecar: its desk and its journal, folded by hand (`step`) for determinism.
    final class Sidecar: Sendable {
        let journal: SharedJournal
        let desk: ApprovalDesk

        /// A file to remove when the sidecar goes (the other sidecars keep theirs open).
        let file: String?

        init(_ store: any JournalStore, _ name: String, file: String? = nil) {
            self.file = file
            journal = SharedJournal(store: store, origin: name)
            desk = ApprovalDesk(prefix: name, journal: journal)
            journal.attach { [weak desk] entry in desk?.apply(entry) }
        }

        func step() async { await journal.step() }

        deinit {
            if let file { for suffix in ["", "-wal", "-shm"] { unlink(file + suffix) } }
        }
    }

    /// The stores sidecars share: one in memory, or one SQLite file each opens for itself.
    enum Store: CaseIterable {
        case memory, sqlite

        func sidecars(_ names: String...) throws -> [Sidecar] {
            switch self {
            case .memory:
                let shared = MemoryJournalStore()
                return names.map { Sidecar(shared, $0) }
            case .sqlite:
                let path = "/tmp/postern-journal-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sqlite"
                return try names.map { Sidecar(try SQLiteJournalStore(path: path), $0, file: path) }
            }
        }
    }

    @Test(arguments: Store.allCases)
    func anApprovalAskedOnOneSidecarIsDecidedOnAnotherAndItsGrantAdmitsOnBoth(_ kind: Store) async throws {
        let sidecars = try kind.sidecars("a", "b")
        let (a, b) = (sidecars[0], sidecars[1])
        let requirement = ApprovalRequirement(approvers: [Self.alice], grantUses: 2, bindToRequest: true)
        guard case .pending(let approval)? = a.desk.ask(Self.request, requirement: requirement, now: 100) else {
            Issue.record("no approval")
            return
        }
        await a.step()
        await b.step()
        #expect(b.desk.approvals(now: 101).map(\.id) == [approval.id])
        // Decided through b: the journal's order makes the outcome, here and on a.
        let outcome = try await b.desk.decide(approval.id, .approve(by: Self.alice, groups: [], reason: "ok", at: 110))
        let decided = try #require(outcome).get()
        let grant = try #require(decided.grant)
        await a.step()
        #expect(a.desk.approvals(now: 111).first?.state == .approved)
        #expect(a.desk.grants().map(\.id) == [grant.id])
        // One use on each sidecar: each sees the other's once it has read the journal.
        #expect(a.desk.ask(Self.request, requirement: requirement, now: 120) == .granted(grant: grant.id, secondsLeft: 890))
        await a.step()
        await b.step()
        #expect(b.desk.grants().first?.usesLeft == 1)
        #expect(b.desk.ask(Self.request, requirement: requirement, now: 121) == .granted(grant: grant.id, secondsLeft: 889))
        await b.step()
        await a.step()
        #expect(a.desk.grants().first?.usesLeft == 0)
        guard case .pending? = a.desk.ask(Self.request, requirement: requirement, now: 122) else {
            Issue.record("a used-up grant admitted a request")
            return
        }
    }

    @Test(arguments: Store.allCases)
    func approversOnTwoSidecarsAreCountedOnceEachAndTheRequesterNever(_ kind: Store) async throws {
        let sidecars = try kind.sidecars("a", "b")
        let (a, b) = (sidecars[0], sidecars[1])
        let requirement = ApprovalRequirement(approvers: [Self.alice, Self.bob, Self.deployer], approvalsNeeded: 2)
        guard case .pending(let approval)? = a.desk.ask(Self.request, requirement: requirement, now: 100) else { return }
        await a.step()
        await b.step()
        #expect(try await b.desk.decide(approval.id, .approve(by: Self.deployer, groups: [], reason: "", at: 101))
                == .failure(.selfApproval))
        _ = try await a.desk.decide(approval.id, .approve(by: Self.alice, groups: [], reason: "", at: 102))
        // Alice again, on the other sidecar: she has decided already.
        #expect(try await b.desk.decide(approval.id, .approve(by: Self.alice, groups: [], reason: "", at: 103))
                == .failure(.alreadyDecided(Self.alice)))
        let second = try await b.desk.decide(approval.id, .approve(by: Self.bob, groups: [], reason: "", at: 104))
        #expect(try #require(second).get().approval.state == .approved)
        await a.step()
        #expect(a.desk.approvals(now: 105).first?.verdicts.map(\.approver) == [Self.alice, Self.bob])
    }

    @Test func whileTheStoreIsAwayGrantsStillAdmitButNothingNewIsOpenedOrDecided() async throws {
        let store = MemoryJournalStore()
        let a = Sidecar(store, "a")
        let requirement = ApprovalRequirement(approvers: [Self.alice], grantUses: 5)
        guard case .pending(let approval)? = a.desk.ask(Self.request, requirement: requirement, now: 100) else { return }
        _ = try await a.desk.decide(approval.id, .approve(by: Self.alice, groups: [], reason: "", at: 101))
        var waiting = Self.request
        waiting.digest = "d3"
        guard case .pending(let undecided)? = a.desk.ask(waiting, requirement: requirement, now: 101) else { return }
        store.outage.withLock { $0 = "connection refused" }
        await a.step()
        #expect(!a.journal.isAvailable && a.journal.status.lastError == "connection refused")
        guard case .granted? = a.desk.ask(Self.request, requirement: requirement, now: 102) else {
            Issue.record("the last snapshot was not enforced")
            return
        }
        var other = Self.request
        other.digest = "d2"
        #expect(a.desk.ask(other, requirement: requirement, now: 103) == nil)
        await #expect(throws: JournalStoreError.self) {
            _ = try await a.desk.decide(undecided.id, .deny(by: Self.alice, groups: [], reason: "", at: 104))
        }
        // Back: what was done meanwhile is written, in order, and a new sidecar reads it all.
        store.outage.withLock { $0 = nil }
        await a.step()
        #expect(a.journal.isAvailable && a.journal.status.pending == 0)
        let c = Sidecar(store, "c")
        await c.step()
        #expect(c.desk.grants().first?.usesLeft == 4)
        #expect(c.desk.approvals(now: 105).map(\.state) == [.approved, .pending])
    }

    @Test func aRestartedSidecarReadsBackEverythingFromItsSQLiteFile() async throws {
        let path = "/tmp/postern-journal-\(getpid())-restart.sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) } }
        let requirement = ApprovalRequirement(approvers: [Self.alice])
        var approvalID = ""
        do {
            let first = Sidecar(try SQLiteJournalStore(path: path), "run-1")
            guard case .pending(let approval)? = first.desk.ask(Self.request, requirement: requirement, now: 100) else { return }
            approvalID = approval.id
            _ = try await first.desk.decide(approval.id, .approve(by: Self.alice, groups: [], reason: "", at: 101))
        }
        let second = Sidecar(try SQLiteJournalStore(path: path), "run-2")
        await second.step()
        #expect(second.desk.approvals(now: 102).map(\.id) == [approvalID])
        #expect(second.desk.grants().first?.approval == approvalID)
        // A file from a newer Postern is refused, not misread.
        _ = try? SQLiteJournalStore(path: path)
        let newer = path + "-newer"
        defer { for suffix in ["", "-wal", "-shm"] { unlink(newer + suffix) } }
        _ = try SQLiteJournalStore(path: newer)
        var handle: OpaquePointer?
        sqlite3_open(newer, &handle)
        sqlite3_exec(handle, "INSERT INTO postern_schema (version) VALUES (99)", nil, nil, nil)
        sqlite3_close(handle)
        #expect(throws: JournalStoreError.self) { _ = try SQLiteJournalStore(path: newer) }
    }

    @Test func entriesReadBackAsTheyWereWritten() throws {
        let approval = Approval(id: "apr-x-1", requester: Self.deployer, function: "deployment", operation: "model_load",
                                model: nil, rule: "loads", requirement: ApprovalRequirement(approvers: ["group:sre"]),
                                digest: "d", summary: "load \"x\"\n", createdAt: 5)
        let entries: [JournalEntry] = [
            .asked(approval), .decided(approval: "apr-x-1", .approve(by: Self.alice, groups: ["sre"], reason: "r", at: 6)),
            .decided(approval: "apr-x-1", .deny(by: Self.bob, groups: [], reason: "", at: 7)),
            .decided(approval: "apr-x-1", .tick(at: 8)), .used(grant: "grt-x-1", at: 9), .grantRevoked("grt-x-1"),
            .revocationAdded(id: "rev-1", Revocation(subject: .pattern("spiffe://td/ns/a/"), reason: "leak", by: Self.alice,
                                                     at: 10, until: 20)),
            .revocationAdded(id: "rev-2", Revocation(subject: .certificateSerial("0a"), reason: "", by: Self.bob, at: 11)),
            .revocationRemoved("rev-1"),
        ]
        for entry in entries {
            let record = JournalRecord(origin: "o", entry: entry)
            #expect(JournalRecord(json: Array(record.json.utf8)) == record, "\(entry)")
        }
        #expect(JournalRecord(json: Array("{\"v\":2,\"origin\":\"o\",\"type\":\"used\"}".utf8)) == nil)
        #expect(JournalRecord(json: Array("{\"v\":1,\"origin\":\"o\",\"type\":\"used\",\"grant\":\"g\"}".utf8)) == nil)
    }
}
