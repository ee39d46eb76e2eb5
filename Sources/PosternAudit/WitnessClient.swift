import PosternClient
import PosternCrypto
import Synchronization

/// Pushes the log's checkpoints to a C2SP `tlog-witness` (add-checkpoint) with a
/// consistency proof from the last size the witness cosigned, so a host that rewrites or
/// cuts its whole log, and re-signs it, is refused by a witness it does not control. The
/// newest cosigned checkpoint is kept beside the log (`checkpoint.cosigned`), ready for
/// `postern audit verify --trusted … --witness KEY`.
///
/// Proofs come from memory in steady state (the tree's edge at the witnessed size and the
/// leaf hashes since); after a restart, or when the witness was away for more than a
/// million records, from the log files.
public final class WitnessClient: Sendable {
    public struct Target: Sendable {
        public var address: ServerAddress
        /// The submission prefix's path (`add-checkpoint` is appended).
        public var path: String
        public var key: NoteVerifierKey

        public init(address: ServerAddress, path: String, key: NoteVerifierKey) {
            self.address = address
            self.path = path
            self.key = key
        }
    }

    public let target: Target
    let logPath: String
    let cosignedPath: String
    private let state = Mutex(State())
    private let pushing = Mutex(())
    static let memoryLimit = 1 << 20

    struct State {
        /// The tree at the witnessed size (or where this run began), and every leaf hash
        /// since, while `tracking`.
        var base = MerkleFrontier()
        var later: [[UInt8]] = []
        var tracking = false
        var latest: (note: String, size: UInt64)?
        /// The size the witness last cosigned, once known.
        var witnessed: UInt64?
        var cosignedAt: Double?
        var lastError: String?
        var failures = 0
    }

    public init(target: Target, logPath: String) {
        self.target = target
        self.logPath = logPath
        let directory = logPath.lastIndex(of: "/").map { String(logPath[..<$0]) } ?? "."
        cosignedPath = directory + "/checkpoint.cosigned"
    }

    public var status: (witnessed: UInt64?, cosignedAt: Double?, error: String?, failures: Int) {
        state.withLock { ($0.witnessed, $0.cosignedAt, $0.lastError, $0.failures) }
    }

    // MARK: From the writer (under the log's lock: cheap)

    func started(at frontier: MerkleFrontier) {
        state.withLock { state in
            state.base = frontier
            state.later = []
            state.tracking = true
        }
    }

    func appended(_ leafHashes: [[UInt8]], first index: UInt64) {
        state.withLock { state in
            guard state.tracking else { return }
            guard index == state.base.size + UInt64(state.later.count), state.later.count < Self.memoryLimit else {
                state.tracking = false  // a gap, or too far behind: the files have it
                state.later = []
                return
            }
            state.later.append(contentsOf: leafHashes)
        }
    }

    func signed(note: String, size: UInt64) {
        state.withLock { $0.latest = (note, size) }
    }

    // MARK: Pushing (on the exporter's thread)

    /// Sends the newest checkpoint when the witness has not cosigned it yet.
    public func push(now: Double = AuditClock.now()) {
        pushing.withLock { _ in pushOnce(now: now) }
    }

    private func pushOnce(now: Double) {
        let (latest, known) = state.withLock { ($0.latest, $0.witnessed) }
        guard let latest, latest.size != known else { return }
        var old = known ?? 0
        for _ in 0..<3 {
            let outcome = submit(latest, old: old)
            switch outcome {
            case .cosigned(let lines):
                accept(latest, lines: lines, now: now)
                return
            case .witnessHas(let size) where size != old && size <= latest.size:
                state.withLock { $0.witnessed = size }
                old = size  // the witness told us where it stands: prove from there
            case .witnessHas(let size) where size > latest.size:
                return fail("the witness has cosigned \(size) records of this log, more than its \(latest.size): "
                            + "the log was cut short or rewritten")
            case .witnessHas(let size):
                return fail("the witness holds a different tree at size \(size): the log was rewritten")
            case .refused(let why):
                return fail(why)
            }
        }
        fail("the witness kept moving while its checkpoint was sent")
    }

    enum Outcome {
        case cosigned(String)
        case witnessHas(UInt64)
        case refused(String)
    }

    private func submit(_ latest: (note: String, size: UInt64), old: UInt64) -> Outcome {
        let proof: [[UInt8]]
        switch consistencyProof(from: old, to: latest.size) {
        case .failure(let why): return .refused(why.description)
        case .success(let built): proof = built
        }
        var body = "old \(old)\n"
        for hash in proof { body += Base64URL.encodeStandard(hash) + "\n" }
        body += "\n" + latest.note
        let path = (target.path.hasSuffix("/") ? target.path : target.path + "/") + "add-checkpoint"
        let request = "POST \(path) HTTP/1.1\r\nhost: \(target.address.host):\(target.address.port)\r\n"
            + "content-type: text/plain; charset=utf-8\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n" + body
        switch HTTP1Client.exchange(target.address, request: Array(request.utf8), limit: 1 << 20) {
        case .failure(let failure):
            return .refused("cannot reach the witness: \(failure)")
        case .success(let reply):
            let text = String(decoding: reply.body, as: UTF8.self)
            switch reply.status {
            case 200: return .cosigned(text)
            case 409:
                guard let size = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == " " }).first
                    .flatMap({ UInt64($0) }) else {
                    return .refused("the witness answered 409 without its size")
                }
                return .witnessHas(size)
            case 422: return .refused("the witness refused the consistency proof from \(old) to \(latest.size): the log's history changed")
            case 403: return .refused("the witness does not trust this log's key")
            case 404: return .refused("the witness does not know this log's origin")
            default: return .refused("the witness answered \(reply.status)")
            }
        }
    }

    private func accept(_ latest: (note: String, size: UInt64), lines: String, now: Double) {
        guard let (text, _) = SignedNote.parts(latest.note),
              Cosignature.verify(lines, checkpointText: String(decoding: text, as: UTF8.self), witness: target.key) != nil
        else { return fail("the witness's answer holds no valid cosignature by \(target.key.name)") }
        let cosigned = latest.note + lines.split(separator: "\n").filter { $0.hasPrefix(SignedNote.dash) }
            .map { $0 + "\n" }.joined()
        do {
            try AuditFile.replace(cosignedPath, with: Array(cosigned.utf8))
        } catch {
            return fail("cannot keep the cosigned checkpoint: \(error)")
        }
        state.withLock { state in
            state.witnessed = latest.size
            state.cosignedAt = now
            state.lastError = nil
            // Move the base up to the witnessed size, when the leaves are at hand.
            let offset = Int(latest.size) - Int(state.base.size)
            if state.tracking, offset >= 0, offset <= state.later.count {
                for leaf in state.later[..<offset] { state.base.append(leafHash: leaf) }
                state.later.removeFirst(offset)
            }
        }
    }

    private func fail(_ why: String) {
        state.withLock { state in
            state.lastError = why
            state.failures += 1
        }
    }

    /// PROOF(old, D[size]), from memory when it holds the leaves, else from the files.
    func consistencyProof(from old: UInt64, to size: UInt64) -> Result<[[UInt8]], ClientStream.Failure> {
        guard old > 0 else { return .success([]) }
        let fromMemory = state.withLock { state -> [[UInt8]]? in
            guard state.tracking, old >= state.base.size, size <= state.base.size + UInt64(state.later.count) else { return nil }
            var edge = state.base
            let skip = Int(old - state.base.size)
            for leaf in state.later[..<skip] { edge.append(leafHash: leaf) }
            return FrontierProof(base: edge, later: Array(state.later[skip..<Int(size - state.base.size)]))
                .consistencyProof(to: Int(size))
        }
        if let fromMemory { return .success(fromMemory) }
        var files: [(name: String, bytes: [UInt8])] = []
        for path in [logPath] + RotatedFiles.older(than: .infinity, beside: logPath) {
            guard let bytes = try? AuditFile.readAll(path) else { continue }
            files.append((path, bytes))
        }
        let verifier = AuditVerifier(key: nil)
        for file in AuditVerifier.order(files) { verifier.check(file: file.name, bytes: file.bytes) }
        let start = verifier.start
        guard old >= start.size, size <= start.size + UInt64(verifier.leaves.count) else {
            return .failure(.init("the log files no longer reach back to size \(old), which the witness last cosigned"))
        }
        var edge = start
        let skip = Int(old - start.size)
        for leaf in verifier.leaves[..<skip] { edge.append(leafHash: leaf) }
        guard let proof = FrontierProof(base: edge, later: Array(verifier.leaves[skip..<Int(size - start.size)]))
            .consistencyProof(to: Int(size)) else { return .failure(.init("cannot build a proof from \(old) to \(size)")) }
        return .success(proof)
    }
}
