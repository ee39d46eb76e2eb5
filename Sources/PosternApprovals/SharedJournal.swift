import Synchronization

/// Keeps this sidecar's approvals, grants and revocations in step with the shared journal:
/// what the data path does (an approval asked for, a grant used) is applied at once and
/// written behind; what operators do (decisions, revocations) is written first and takes
/// effect, here as on every sidecar, when it is read back in journal order. Requests read
/// the in-memory book and list only. While the store is away the last snapshot keeps being
/// enforced, new approvals and decisions are refused, and `status` says so.
public final class SharedJournal: Sendable {
    public let store: any JournalStore
    /// This run's name in the journal (its own applied-first entries are skipped on read).
    public let origin: String
    /// Folds entries read from the journal; the outcome of a decision, for its waiter.
    public typealias Apply = @Sendable (JournalEntry) async -> Result<ApprovalMachine.Outcome, ApprovalMachine.Refusal>?

    private let state = Mutex(State())
    private let writing = AsyncLock()
    private let pollInterval: Duration

    struct State {
        var apply: Apply?
        var outbound: [JournalRecord] = []
        var sequence: Int64 = 0
        var healthy = true
        var lastError: String?
        var waiters: [(sequence: Int64, continuation: CheckedContinuation<Void, Never>)] = []
        var outcomes: [Int64: Result<ApprovalMachine.Outcome, ApprovalMachine.Refusal>] = [:]
        var reading = false
        var readRequests = 0
    }

    public init(store: any JournalStore, origin: String, pollInterval: Duration = .seconds(1)) {
        self.store = store
        self.origin = origin
        self.pollInterval = pollInterval
    }

    public struct Status: Sendable {
        public var healthy: Bool
        public var sequence: Int64
        public var lastError: String?
        public var pending: Int
    }

    public var status: Status {
        state.withLock { Status(healthy: $0.healthy, sequence: $0.sequence, lastError: $0.lastError, pending: $0.outbound.count) }
    }

    public var isAvailable: Bool { state.withLock { $0.healthy } }

    /// Where entries read from the journal go (the desk, the revocations): set before the
    /// first round.
    public func attach(_ apply: @escaping Apply) {
        state.withLock { $0.apply = apply }
    }

    /// Reads the whole journal (start-up), then keeps following it until the task is
    /// cancelled.
    public func run() async {
        while !Task.isCancelled {
            await step()
            await store.waitForChange(timeout: pollInterval)
        }
    }

    /// One round: write what waits, read what is new.
    public func step() async {
        await writing.lock()
        let outbound = state.withLock { state -> [JournalRecord] in
            defer { state.outbound.removeAll() }
            return state.outbound
        }
        do {
            if !outbound.isEmpty { _ = try await store.append(outbound) }
            writing.unlock()
        } catch {
            state.withLock { $0.outbound.insert(contentsOf: outbound, at: 0) }  // kept, in order, for the next round
            writing.unlock()
            return failed(error)
        }
        do {
            try await catchUp()
            state.withLock { state in
                state.healthy = true
                state.lastError = nil
            }
        } catch {
            failed(error)
        }
    }

    private func failed(_ error: any Error) {
        state.withLock { state in
            state.healthy = false
            state.lastError = "\(error)"
        }
    }

    /// Applies everything after the last entry read. One reader at a time: a caller that
    /// finds another reading leaves it to that one, which reads again before it stops.
    private func catchUp() async throws {
        let first = state.withLock { state -> Bool in
            state.readRequests += 1
            guard !state.reading else { return false }
            state.reading = true
            return true
        }
        guard first else { return }
        while true {
            let seen = state.withLock { $0.readRequests }
            do {
                try await readAll()
            } catch {
                state.withLock { $0.reading = false }
                throw error
            }
            let done = state.withLock { state -> Bool in
                guard state.readRequests == seen else { return false }
                state.reading = false
                return true
            }
            if done { return }
        }
    }

    private func readAll() async throws {
        while true {
            let after = state.withLock { $0.sequence }
            let batch = try await store.read(after: after, limit: 1000)
            guard !batch.isEmpty else { return }
            let apply = state.withLock { $0.apply }
            var outcomes: [Int64: Result<ApprovalMachine.Outcome, ApprovalMachine.Refusal>] = [:]
            for (sequence, record) in batch {
                guard let record, !(record.origin == origin && record.entry.appliedFirst) else { continue }
                if let apply, let outcome = await apply(record.entry) { outcomes[sequence] = outcome }
            }
            let last = batch[batch.count - 1].sequence
            let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.sequence = last
                state.outcomes.merge(outcomes) { $1 }
                let (done, waiting) = (state.waiters.filter { $0.sequence <= last }, state.waiters.filter { $0.sequence > last })
                state.waiters = waiting
                return done.map(\.continuation)
            }
            ready.forEach { $0.resume() }
        }
    }

    /// An entry the data path has already applied: written behind, in order.
    public func publish(_ entry: JournalEntry) {
        state.withLock { $0.outbound.append(JournalRecord(origin: origin, entry: entry)) }
    }

    /// An operator's change: written now, and applied when read back (here and everywhere)
    /// — the outcome of a decision as the journal's order made it.
    public func commit(_ entry: JournalEntry) async throws -> Result<ApprovalMachine.Outcome, ApprovalMachine.Refusal>? {
        // What this sidecar applied first goes before it, so the order holds: one writer at
        // a time, so an approval asked here is in the journal before its decision.
        await writing.lock()
        let earlier = state.withLock { state -> [JournalRecord] in
            defer { state.outbound.removeAll() }
            return state.outbound
        }
        let sequence: Int64
        do {
            sequence = try await store.append(earlier + [JournalRecord(origin: origin, entry: entry)])
            writing.unlock()
        } catch {
            state.withLock { $0.outbound.insert(contentsOf: earlier, at: 0) }
            writing.unlock()
            failed(error)
            throw error
        }
        try await catchUp()
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.sequence >= sequence { return true }
                state.waiters.append((sequence, continuation))
                return false
            }
            if now { continuation.resume() }
        }
        return state.withLock { $0.outcomes.removeValue(forKey: sequence) }
    }
}

/// A lock an async task waits for without blocking its thread: the holder unlocks, and
/// the next waiter (in order) is resumed holding it.
final class AsyncLock: Sendable {
    private let state = Mutex((held: false, waiters: [CheckedContinuation<Void, Never>]()))

    func lock() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                guard state.held else {
                    state.held = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    func unlock() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else {
                state.held = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
