#if canImport(Glibc)
import Glibc
#endif
import PosternCrypto
import Synchronization
import Testing
@testable import PosternAudit

/// A clock the tests move by hand.
final class ManualClock: Sendable {
    private let seconds = Mutex(1_800_000_000.0)
    func advance(_ by: Double) { seconds.withLock { $0 += by } }
    var now: @Sendable () -> Double { { [self] in seconds.withLock { $0 } } }
}

struct LogFixture {
    let directory: String
    let clock = ManualClock()
    let key = try! SigningKey.ed25519(seed: Array(repeating: 0x11, count: 32))
    var verifierKey: NoteVerifierKey { try! NoteVerifierKey(name: "postern/test", publicKey: key.publicKey) }
    var path: String { directory + "/audit.jsonl" }

    init() {
        var template = Array("/tmp/postern-audit-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    func settings(rotateBytes: Int = 64 << 20) -> AuditSettings {
        var settings = AuditSettings(path: path, origin: "postern/test", key: key)
        settings.rotateBytes = rotateBytes
        return settings
    }

    func open(rotateBytes: Int = 64 << 20) throws -> AuditLog {
        try AuditLog(settings(rotateBytes: rotateBytes), clock: clock.now)
    }

    func write(_ log: AuditLog, _ count: Int, from: Int = 0) {
        var batch = AuditBatch()
        for n in from..<(from + count) { batch.add(AuditRecord(kind: "request", at: clock.now()).number("n", n).bytes) }
        #expect(log.append(batch))
    }

    func files() -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name.hasPrefix("audit") { names.append(directory + "/" + name) }
        }
        return names
    }

    func read(_ path: String) -> [UInt8] { (try? AuditFile.read(path)) .flatMap { $0 } ?? [] }

    func verify(_ contents: [String: [UInt8]]? = nil) -> AuditVerifier {
        let verifier = AuditVerifier(key: verifierKey)
        let files = contents.map { $0.map { (name: $0.key, bytes: $0.value) } } ?? files().map { (name: $0, bytes: read($0)) }
        for file in AuditVerifier.order(files) { verifier.check(file: file.name, bytes: file.bytes) }
        verifier.finish()
        return verifier
    }
}

func lines(_ bytes: [UInt8]) -> [[UInt8]] { bytes.split(separator: 0x0A).map(Array.init) }
func joined(_ lines: [[UInt8]]) -> [UInt8] { lines.flatMap { $0 + [0x0A] } }

@Suite struct AuditLogTests {
    @Test func recordsAreNumberedLeavesAndCheckpointsSignTheirTree() throws {
        let fixture = LogFixture()
        let log = try fixture.open()
        fixture.write(log, 5)
        fixture.clock.advance(3)
        log.tick()
        let verifier = fixture.verify()
        #expect(!verifier.failed, "\(verifier.findings)")
        #expect(verifier.checkpoints.last?.checkpoint.size == 5)
        #expect(verifier.newestSignedKind == "request")
        let text = lines(fixture.read(fixture.path))
        #expect(text.count == 7)  // header (signed at size 0), five records, checkpoint
        #expect(String(decoding: text[1], as: UTF8.self).hasPrefix("{\"index\":0,\"v\":1,\"ts\":"))
        // The root is RFC 6962's over the exact lines.
        let tree = MerkleTree(leafHashes: text[1..<6].map(MerkleHash.leaf))
        #expect(verifier.checkpoints.last?.checkpoint.root == tree.root(size: 5))
    }

    @Test func anIdleLogWritesHeartbeatsSoItsAgeShows() throws {
        let fixture = LogFixture()
        let log = try fixture.open()
        fixture.clock.advance(31)
        log.tick()
        let verifier = fixture.verify()
        #expect(!verifier.failed)
        #expect(verifier.newestSignedKind == "heartbeat")
        #expect(verifier.newestSignedTime == (fixture.clock.now() * 1000).rounded(.down) / 1000)
    }

    @Test func everyKindOfTamperingIsCaughtAndPlaced() throws {
        let fixture = LogFixture()
        let log = try fixture.open()
        for round in 0..<3 {
            fixture.write(log, 4, from: round * 4)
            fixture.clock.advance(3)
            log.tick()
        }
        let good = lines(fixture.read(fixture.path))
        let name = fixture.path
        func check(_ edited: [[UInt8]]) -> String {
            let verifier = fixture.verify([name: joined(edited)])
            return verifier.findings.first { $0.severity == .error }?.description ?? "no error"
        }
        // Lines: 0 header, 1-4 records 0-3, 5 checkpoint(4), 6-9 records 4-7, 10 checkpoint(8), ...
        var altered = good
        altered[7] = Array(String(decoding: good[7], as: UTF8.self).replacingFirst("\"n\":5", with: "\"n\":9").utf8)
        #expect(check(altered).contains("records 4..<8 do not match the signed checkpoint"))
        var deleted = good
        deleted.remove(at: 7)
        #expect(check(deleted).contains("record 6 follows record 4: 1 record(s) deleted"))
        var swapped = good
        swapped.swapAt(6, 7)
        #expect(check(swapped).contains("record 5 appears where record 4 belongs: records reordered"))
        var inserted = good
        inserted.insert(good[7], at: 8)
        #expect(check(inserted).contains("inserted or reordered"))
        var renumbered = good  // a deleted record hidden by renumbering the rest
        renumbered.remove(at: 7)
        for i in 7...8 {  // records 6 and 7 become 5 and 6
            let text = String(decoding: renumbered[i], as: UTF8.self)
            renumbered[i] = Array(text.replacingFirst("{\"index\":\(i - 1)", with: "{\"index\":\(i - 2)").utf8)
        }
        #expect(check(renumbered).contains("a checkpoint of size 8 follows 7 records"))
        var forged = good
        forged[5] = Array(String(decoding: good[5], as: UTF8.self).replacingFirst("postern/test\\n4", with: "postern/test\\n3").utf8)
        #expect(check(forged).contains("signature does not verify"))
        var junk = good
        junk.insert(Array("{\"hello\":1}".utf8), at: 3)
        #expect(check(junk).contains("not an audit line"))
        // Cut off after a checkpoint: nothing is wrong inside, but the newest signed record is older.
        let cut = fixture.verify([name: joined(Array(good[..<6]))])
        #expect(!cut.failed)
        #expect(cut.checkpoints.last?.checkpoint.size == 4)
        // Cut mid-line: a torn tail, reported, the rest still checks.
        let torn = fixture.verify([name: joined(Array(good[..<8])) + good[8].prefix(10)])
        #expect(!torn.failed)
        #expect(torn.findings.contains { $0.message.contains("torn") })
    }

    @Test func aRestartContinuesTheTreeAndATornTailIsKeptAside() throws {
        let fixture = LogFixture()
        do {
            let log = try fixture.open()
            fixture.write(log, 3)
            log.close()
        }
        do {
            let log = try fixture.open()
            fixture.write(log, 2, from: 3)
            log.close()
        }
        var verifier = fixture.verify()
        #expect(!verifier.failed, "\(verifier.findings)")
        #expect(verifier.checkpoints.last?.checkpoint.size == 5)
        #expect(fixture.files().count == 1)
        // A crash mid-write: the torn line stays in its file, the tree goes on in a new one.
        let fd = open(fixture.path, O_WRONLY | O_APPEND)
        _ = write(fd, "{\"index\":5,\"v\":1,\"ts\":1", 22)
        close(fd)
        let log = try fixture.open()
        fixture.write(log, 1, from: 5)
        log.close()
        verifier = fixture.verify()
        #expect(!verifier.failed, "\(verifier.findings)")
        #expect(fixture.files().count == 2)
        #expect(verifier.checkpoints.last?.checkpoint.size == 6)
        #expect(verifier.findings.contains { $0.severity == .warning && $0.message.contains("torn") })
    }

    @Test func rotatedFilesEachCheckAloneAndTogetherAndAMissingOneIsNoticed() throws {
        let fixture = LogFixture()
        let log = try fixture.open(rotateBytes: 2000)
        for round in 0..<6 { fixture.write(log, 10, from: round * 10) }
        log.close()
        let files = AuditVerifier.order(fixture.files().map { (name: $0, bytes: fixture.read($0)) }).map(\.name)
        #expect(files.count >= 3)
        let all = fixture.verify()
        #expect(!all.failed, "\(all.findings)")
        #expect(all.checkpoints.last?.checkpoint.size == 60)
        let alone = fixture.verify([files[1]: fixture.read(files[1])])
        #expect(!alone.failed)
        #expect(alone.findings.contains { $0.message.contains("earlier files were not given") })
        var gap: [String: [UInt8]] = [:]
        for file in files where file != files[1] { gap[file] = fixture.read(file) }
        #expect(fixture.verify(gap).findings.contains { $0.severity == .error && $0.message.contains("records missing") })
    }

    @Test func aLogThatCannotBeContinuedStopsStartUp() throws {
        let fixture = LogFixture()
        let fd = open(fixture.path, O_WRONLY | O_CREAT, 0o600)
        _ = write(fd, "not an audit log\n", 17)
        close(fd)
        #expect(throws: AuditError.self) { try fixture.open() }
    }
}

@Suite struct RecordingFilesTests {
    @Test func recordingsRotateWithTheLogAndOldOnesArePrunedOnTheRecord() throws {
        let fixture = LogFixture()
        var settings = fixture.settings(rotateBytes: 4096)
        settings.recordingsPath = fixture.directory + "/recordings.jsonl"
        settings.recordingsRetention = 3600
        let log = try AuditLog(settings, clock: fixture.clock.now)
        for n in 0..<30 {
            var records = AuditBatch(), recordings = AuditBatch()
            records.add(AuditRecord(kind: "request", at: fixture.clock.now()).number("n", n).bytes)
            recordings.add(Array("{\"n\":\(n),\"padding\":\"\(String(repeating: "x", count: 200))\"}".utf8))
            #expect(log.append(records, recordings: recordings))
        }
        let rotated = RotatedFiles.older(than: fixture.clock.now() + 1, beside: settings.recordingsPath!)
        #expect(rotated.count >= 1)
        fixture.clock.advance(3601)
        log.tick()
        #expect(RotatedFiles.older(than: fixture.clock.now() + 1, beside: settings.recordingsPath!).isEmpty)
        log.close()
        let verifier = fixture.verify()
        #expect(!verifier.failed, "\(verifier.findings)")
        let text = fixture.files().map { String(decoding: fixture.read($0), as: UTF8.self) }.joined()
        #expect(text.contains("\"kind\":\"recordings.pruned\""))
    }
}
