#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import PosternCore
import PosternCrypto

/// The audit log's state behind its lock: the open file, the tree's right edge, and the
/// clocks of checkpoints, syncs and rotation.
struct AuditWriter {
    let settings: AuditSettings
    let mirror: Int32?
    let clock: @Sendable () -> Double
    private let hasher = SHA256Hasher()
    /// `{"log_origin":…,"log_signed":` for the standard output copy.
    private var originMember: [UInt8] = []
    private var file: AuditFile?
    private var recordings: AuditFile?
    private var recordingBytes = 0
    private(set) var frontier: MerkleFrontier
    /// Bytes of the current file that hold whole lines (a failed write is cut back to it).
    private var fileBytes = 0
    private var fileOpenedAt: Double
    private var signedSize: UInt64 = 0
    private var lastCheckpointAt: Double
    private var lastSyncAt: Double
    private var unsynced = false
    private var lastPrune: Double = 0
    private(set) var failure: String?
    /// Records not yet written because the sink failed.
    private var retained = AuditBatch()
    /// Records lost since start (the sink failed longer than memory held them).
    private var dropped = 0
    private var droppedUnreported = 0

    static func open(_ settings: AuditSettings, mirror: Int32?,
                     clock: @escaping @Sendable () -> Double) throws(AuditError) -> AuditWriter {
        let now = clock()
        var writer = AuditWriter(settings: settings, mirror: mirror, clock: clock, frontier: MerkleFrontier(),
                                 fileOpenedAt: now, lastCheckpointAt: now, lastSyncAt: now)
        writer.originMember = ExportedLine.originMember(settings.origin)
        if let existing = try AuditFile.read(settings.path), !existing.isEmpty {
            let (frontier, torn) = try Self.recover(existing, path: settings.path)
            writer.frontier = frontier
            if torn {
                // Keep the torn file as evidence; the tree goes on in a new one.
                try AuditFile.rename(settings.path, settings.path + writer.rotatedSuffix(now))
            } else {
                let file = try AuditFile.openAppending(settings.path)
                writer.file = file
                writer.fileBytes = existing.count
            }
        }
        settings.witness?.started(at: writer.frontier)
        // A continued file gets its checkpoint at the first tick; a new one's header is signed.
        if writer.file == nil { try writer.startFile() }
        return writer
    }

    /// The tree an earlier run left in `bytes`, and whether its last line was torn.
    private static func recover(_ bytes: [UInt8], path: String) throws(AuditError) -> (MerkleFrontier, Bool) {
        let verifier = AuditVerifier(key: nil)
        verifier.check(file: path, bytes: bytes)
        if let error = verifier.findings.first(where: { $0.severity == .error }) {
            throw .unreadableLog("the audit log \(path) cannot be continued (\(error.message), line \(error.line)); "
                                 + "move it aside to start a new log")
        }
        guard let frontier = verifier.frontier else { throw .unreadableLog("the audit log \(path) has no header") }
        return (frontier, verifier.findings.contains { $0.message.contains("torn") })
    }

    var status: AuditStatus {
        AuditStatus(size: frontier.size, signedSize: signedSize, lastCheckpointAt: lastCheckpointAt,
                    failure: failure, retained: retained.count, dropped: dropped)
    }

    mutating func append(_ batch: AuditBatch, recordings lines: AuditBatch = AuditBatch()) -> Bool {
        guard failure == nil else {
            retain(batch)  // the recordings are lost; their digests stay in the records
            return false
        }
        do {
            if !lines.isEmpty { try writeRecordings(lines) }
            try write(batch)
            if fileBytes >= settings.rotateBytes || recordingBytes >= settings.rotateBytes { try rotate() }
            return true
        } catch {
            fail(error)
            retain(batch)
            return false
        }
    }

    mutating func tick() {
        let now = clock()
        do {
            if failure != nil { try recoverSink() }
            if frontier.size > signedSize, now - lastCheckpointAt >= settings.checkpointInterval {
                try writeCheckpoint()
            } else if now - lastCheckpointAt >= settings.heartbeat {
                var heartbeat = AuditBatch()
                heartbeat.add(AuditRecord(kind: "heartbeat", at: now).bytes)
                try write(heartbeat)
                try writeCheckpoint()
            }
            if unsynced, settings.sync == .interval, now - lastSyncAt >= settings.syncInterval { try sync() }
            if now - fileOpenedAt >= settings.rotateAge { try rotate() }
            if settings.recordingsRetention != nil, now - lastPrune >= 60 { try pruneRecordings(now) }
        } catch {
            fail(error)
        }
    }

    mutating func close() {
        guard failure == nil else { return }
        do {
            try writeCheckpoint()
            try sync()
        } catch {
            fail(error)
        }
        file?.close()
        file = nil
        recordings?.close()
        recordings = nil
    }

    // MARK: - Writing

    /// Writes records as the next leaves; the tree only moves once the bytes are down.
    private mutating func write(_ batch: AuditBatch) throws(AuditError) {
        guard let file else { throw .sink("the audit file is not open") }
        var next = frontier
        var out: [UInt8] = []
        out.reserveCapacity(batch.bytes.count + batch.count * 20)
        var lines: [Range<Int>] = []
        var leafHashes: [[UInt8]] = []
        let witness = settings.witness
        batch.forEach { record in
            let start = out.count
            out.append(contentsOf: AuditLine.recordPrefix)
            out.append(contentsOf: String(next.size).utf8)
            if record.count > 2 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: record.dropFirst())
            let leaf = MerkleHash.leaf(out[start...], hasher)
            next.append(leafHash: leaf, hasher)
            if witness != nil { leafHashes.append(leaf) }
            lines.append(start..<out.count)
            out.append(0x0A)
        }
        try put(out, file, mirrored: false)
        if let mirror {
            // The copy on standard output names its log and signature on every record.
            var copy: [UInt8] = []
            copy.reserveCapacity(out.count + lines.count * (originMember.count + 8))
            for range in lines {
                ExportedLine.splice(out[range], originMember: originMember, signed: signedSize, into: &copy)
                copy.append(0x0A)
            }
            FileDescriptor.writeAll(mirror, copy)  // best effort: the file is the record
        }
        for exporter in settings.exporters {
            for (offset, range) in lines.enumerated() {
                exporter.enqueue(out[range], index: frontier.size + UInt64(offset), signedSize: signedSize)
            }
        }
        witness?.appended(leafHashes, first: frontier.size)
        frontier = next
        if settings.sync == .always { try sync() }
    }

    /// Recordings as lines of their own file (opened on first use), whole or not at all.
    private mutating func writeRecordings(_ lines: AuditBatch) throws(AuditError) {
        guard let path = settings.recordingsPath else { return }
        if recordings == nil {
            let opened = try AuditFile.openAppending(path)
            recordings = opened
            recordingBytes = opened.size
        }
        guard let recordings else { return }
        var out: [UInt8] = []
        lines.forEach { out.append(contentsOf: $0); out.append(0x0A) }
        let before = recordings.size
        do {
            try recordings.write(out)
        } catch {
            try? recordings.truncate(to: before)
            throw error
        }
        recordingBytes += out.count
    }

    private mutating func writeCheckpoint() throws(AuditError) {
        guard let file else { throw .sink("the audit file is not open") }
        try putSigned(AuditLine.checkpoint, file)
    }

    /// Signs the tree as it stands, writes the line holding that note (a checkpoint or a
    /// file header), and tells the witness.
    private mutating func putSigned(_ line: (String) -> [UInt8], _ file: AuditFile) throws(AuditError) {
        let note = try note()
        try put(line(note), file)
        settings.witness?.signed(note: note, size: frontier.size)
        signedSize = frontier.size
        lastCheckpointAt = clock()
    }

    private func note() throws(AuditError) -> String {
        let text = Checkpoint(origin: settings.origin, size: frontier.size, root: frontier.root).text
        do {
            return try SignedNote.sign(text, name: settings.origin, key: settings.key)
        } catch {
            throw .signing("cannot sign a checkpoint: \(error)")
        }
    }

    /// Appends whole lines, or cuts a partial write back off and throws.
    private mutating func put(_ bytes: [UInt8], _ file: AuditFile, mirrored: Bool = true) throws(AuditError) {
        do {
            try file.write(bytes)
        } catch {
            try? file.truncate(to: fileBytes)
            throw error
        }
        fileBytes += bytes.count
        unsynced = true
        if mirrored, let mirror { FileDescriptor.writeAll(mirror, bytes) }  // best effort: the file is the record
    }

    private mutating func sync() throws(AuditError) {
        guard unsynced, let file else { return }
        try file.sync()
        unsynced = false
        lastSyncAt = clock()
    }

    // MARK: - Files

    private mutating func startFile() throws(AuditError) {
        let file = try AuditFile.openAppending(settings.path)
        self.file = file
        fileBytes = file.size
        fileOpenedAt = clock()
        // A file that is already there (a rotation that failed half way) has its header.
        if fileBytes == 0 {
            let frontier = self.frontier
            try putSigned({ AuditLine.header(frontier: frontier, note: $0) }, file)
        }
    }

    /// Ends the current file with a checkpoint and begins the next one at the same tree.
    private mutating func rotate() throws(AuditError) {
        try writeCheckpoint()
        try sync()
        file?.close()
        file = nil
        let suffix = rotatedSuffix(clock())
        try AuditFile.rename(settings.path, settings.path + suffix)
        if let path = settings.recordingsPath, let open = recordings {
            open.close()
            recordings = nil
            recordingBytes = 0
            try AuditFile.rename(path, path + suffix)
        }
        try startFile()
        try sync()
    }

    /// `.<first index of the next file, 12 digits>.<unix seconds>`: sorts in log order.
    private func rotatedSuffix(_ now: Double) -> String {
        let index = String(frontier.size)
        return "." + String(repeating: "0", count: max(0, 12 - index.count)) + index + "." + String(Int64(now))
    }

    /// Deletes rotated recording files past the retention, and records which.
    private mutating func pruneRecordings(_ now: Double) throws(AuditError) {
        lastPrune = now
        guard let path = settings.recordingsPath, let retention = settings.recordingsRetention else { return }
        let expired = RotatedFiles.older(than: now - retention, beside: path)
        guard !expired.isEmpty else { return }
        var deleted: [String] = []
        for file in expired where unlink(file) == 0 { deleted.append(file) }
        guard !deleted.isEmpty else { return }
        var record = AuditBatch()
        record.add(AuditRecord(kind: "recordings.pruned", at: now).strings("files", deleted).bytes)
        try write(record)
    }

    // MARK: - Failure

    private mutating func fail(_ error: AuditError) {
        failure = error.description
    }

    private mutating func retain(_ batch: AuditBatch) {
        guard retained.bytes.count + batch.bytes.count <= settings.retainLimit else {
            dropped += batch.count
            droppedUnreported += batch.count
            return
        }
        retained.append(contentsOf: batch)
    }

    /// Tries the sink again: the held records first, so the tree keeps their order.
    private mutating func recoverSink() throws(AuditError) {
        if file == nil { try startFile() }
        if !retained.isEmpty {
            try write(retained)
            retained.removeAll()
        }
        if droppedUnreported > 0 {
            var note = AuditBatch()
            note.add(AuditRecord(kind: "audit.records_dropped", at: clock()).number("count", droppedUnreported).bytes)
            try write(note)
            droppedUnreported = 0
        }
        try sync()
        failure = nil
    }
}
