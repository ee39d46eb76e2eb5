import PosternCrypto

/// Recomputes an audit log's tree from its files and checks every signed checkpoint
/// against it. Stops at the first sign of tampering (later checks would be meaningless)
/// and says where it is; warns about what a crash or a live log leaves behind.
///
/// Without a key it checks structure only (Postern's own recovery at start-up).
public final class AuditVerifier {
    public struct Finding: Equatable, Sendable, CustomStringConvertible {
        public enum Severity: String, Sendable { case error, warning, info }
        public let severity: Severity
        public let file: String
        public let line: Int
        public let message: String

        public var description: String {
            line > 0 ? "\(severity.rawValue): \(file):\(line): \(message)" : "\(severity.rawValue): \(file): \(message)"
        }
    }

    public struct SignedCheckpoint: Sendable {
        public let checkpoint: Checkpoint
        public let note: String
    }

    let key: NoteVerifierKey?
    private let hasher = SHA256Hasher()
    public private(set) var findings: [Finding] = []
    /// The tree as far as it has been read.
    public private(set) var frontier: MerkleFrontier?
    /// Where the first file began, and every leaf hash since.
    public private(set) var start = MerkleFrontier()
    public private(set) var leaves: [[UInt8]] = []
    public private(set) var checkpoints: [SignedCheckpoint] = []
    /// The records a signed checkpoint no longer matches (one of them altered), when found.
    public private(set) var alteredSpan: Range<UInt64>?
    /// The time of the newest record a signature covers (heartbeats keep it fresh).
    public private(set) var newestSignedTime: Double?
    public private(set) var newestSignedKind: String?
    private var newestTime: Double?
    private var newestKind: String?
    public var failed: Bool { findings.contains { $0.severity == .error } }

    public init(key: NoteVerifierKey?) { self.key = key }

    /// Checks one file's bytes; files must come in log order (`order` sorts them).
    public func check(file name: String, bytes: [UInt8]) {
        guard !failed else { return }
        var lineNumber = 0
        var position = 0
        while position < bytes.count {
            lineNumber += 1
            guard let newline = bytes[position...].firstIndex(of: 0x0A) else {
                warn(name, lineNumber, "the file ends in a torn line (a crash mid-write); it is not part of the tree")
                return
            }
            let original = ExportedLine.original(bytes[position..<newline])  // a standard output copy
            let line = original?[...] ?? bytes[position..<newline]
            position = newline + 1
            guard let parsed = AuditLine.parse(line) else {
                return fail(name, lineNumber, "not an audit line: inserted or altered")
            }
            if lineNumber == 1 {
                guard case .header(let header, let note) = parsed else {
                    return fail(name, lineNumber, "the file does not begin with an audit header")
                }
                guard checkHeader(header, note: note, name) else { return }
                continue
            }
            switch parsed {
            case .header:
                return fail(name, lineNumber, "a file header in the middle of a file: inserted")
            case .record(let index):
                guard record(index, line, rest: bytes[position...], name, lineNumber) else { return }
            case .checkpoint(let note):
                guard checkpoint(note, name, lineNumber) else { return }
            }
        }
    }

    /// Reports what follows the last checkpoint.
    public func finish() {
        guard !failed, let frontier else { return }
        let signed = checkpoints.last?.checkpoint.size ?? start.size
        if frontier.size > signed {
            findings.append(Finding(severity: .warning, file: "", line: 0, message:
                "\(frontier.size - signed) record(s) after the last checkpoint (size \(signed)) carry no signature yet"))
        }
    }

    /// The root of the first `size` leaves, when the files read cover it.
    public func root(size: UInt64) -> [UInt8]? {
        guard size >= start.size, size - start.size <= UInt64(leaves.count) else { return nil }
        var tree = start
        for leaf in leaves[..<Int(size - start.size)] { tree.append(leafHash: leaf, hasher) }
        return tree.root
    }

    private func checkHeader(_ header: MerkleFrontier, note: String, _ name: String) -> Bool {
        guard let opened = open(note, name, 1) else { return false }
        guard opened.root == header.root else {
            fail(name, 1, "the header's tree edge does not match its signed checkpoint")
            return false
        }
        if let frontier {
            guard header.size == frontier.size else {
                let what = header.size > frontier.size ? "missing" : "inserted"
                fail(name, 1, "begins at record \(header.size), but the files before end at \(frontier.size): records \(what)")
                return false
            }
            guard header == frontier else {
                fail(name, 1, "does not continue the files before it (its tree differs): records altered")
                return false
            }
        } else {
            start = header
            frontier = header
            if header.size > 0 {
                findings.append(Finding(severity: .info, file: name, line: 1,
                                        message: "begins at record \(header.size); earlier files were not given"))
            }
        }
        return true
    }

    private func record(_ index: UInt64, _ line: ArraySlice<UInt8>, rest: ArraySlice<UInt8>, _ name: String,
                        _ number: Int) -> Bool {
        let expected = frontier!.size
        guard index == expected else {
            if index > expected, rest.contains(record: expected) {
                fail(name, number, "record \(index) appears where record \(expected) belongs: records reordered")
            } else if index > expected {
                fail(name, number, "record \(index) follows record \(Int64(expected) - 1): \(index - expected) record(s) deleted")
            } else {
                fail(name, number, "record \(index) appears where record \(expected) belongs: inserted or reordered")
            }
            return false
        }
        let hash = MerkleHash.leaf(line, hasher)
        frontier!.append(leafHash: hash, hasher)
        leaves.append(hash)
        (newestTime, newestKind) = RecordFields.timeAndKind(line)
        return true
    }

    private func checkpoint(_ note: String, _ name: String, _ number: Int) -> Bool {
        guard let opened = open(note, name, number) else { return false }
        let size = frontier!.size
        guard opened.size == size else {
            let what = opened.size > size ? "deleted" : "inserted"
            fail(name, number, "a checkpoint of size \(opened.size) follows \(size) records: records \(what)")
            return false
        }
        guard opened.root == frontier!.root else {
            let from = checkpoints.last?.checkpoint.size ?? start.size
            alteredSpan = from..<size
            fail(name, number, "records \(from)..<\(size) do not match the signed checkpoint: one of them was altered, "
                 + "or they were reordered (--copy with another copy of the log names which)")
            return false
        }
        checkpoints.append(SignedCheckpoint(checkpoint: opened, note: note))
        newestSignedTime = newestTime ?? newestSignedTime
        newestSignedKind = newestKind ?? newestSignedKind
        return true
    }

    /// The checkpoint in a note, its signature checked when there is a key.
    private func open(_ note: String, _ name: String, _ number: Int) -> Checkpoint? {
        let text: String
        if let key {
            guard let verified = SignedNote.open(note, key: key) else {
                fail(name, number, "a checkpoint whose signature does not verify with the key given: forged or altered")
                return nil
            }
            text = verified
        } else {
            text = AuditLine.noteText(note)
        }
        guard let checkpoint = Checkpoint(text: text) else {
            fail(name, number, "a malformed checkpoint")
            return nil
        }
        if let key, checkpoint.origin != key.name {
            fail(name, number, "a checkpoint of log \"\(checkpoint.origin)\", not \"\(key.name)\"")
            return nil
        }
        return checkpoint
    }

    /// The leaf hash of record `index`, when it has been read.
    public func leaf(_ index: UInt64) -> [UInt8]? {
        guard index >= start.size, index - start.size < UInt64(leaves.count) else { return nil }
        return leaves[Int(index - start.size)]
    }

    /// Whether a signed checkpoint of this log covers record `index`.
    public func signs(_ index: UInt64) -> Bool { checkpoints.contains { $0.checkpoint.size > index } }

    private func fail(_ file: String, _ line: Int, _ message: String) {
        findings.append(Finding(severity: .error, file: file, line: line, message: message))
    }

    private func warn(_ file: String, _ line: Int, _ message: String) {
        findings.append(Finding(severity: .warning, file: file, line: line, message: message))
    }
}

extension ArraySlice<UInt8> {
    /// Whether a line of these bytes is record `index` (to tell a reorder from a deletion).
    func contains(record index: UInt64) -> Bool {
        let needle = Array("{\"index\":\(index),".utf8)
        var i = startIndex
        while i + needle.count <= endIndex {
            if self[i..<(i + needle.count)].elementsEqual(needle) { return true }  // i is a line start
            i = self[i...].firstIndex(of: 0x0A).map { $0 + 1 } ?? endIndex
        }
        return false
    }
}
