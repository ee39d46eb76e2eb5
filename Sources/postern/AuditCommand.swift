import PosternAudit
import PosternClient
import PosternConfig
import PosternCore
import PosternCrypto
import PosternJSON

#if canImport(Glibc)
import Glibc
#endif

/// `postern audit key|verify|prove`: what an auditor runs, holding only the files and
/// the public key.
enum AuditCommand {
    static func run(_ options: AuditOptions) -> Int32 {
        switch options.verb {
        case .key: return printKey(options)
        case .verify, .prove, .show, .replay: return check(options)
        }
    }

    private static func printKey(_ options: AuditOptions) -> Int32 {
        var keyFile = options.key
        var origin = options.origin
        if let file = options.config {
            guard let config = loadConfig(file, ConfigOverrides()) else { return 1 }
            guard let audit = config.audit else {
                Stderr.line("postern audit key: \(file) has no audit section")
                return 1
            }
            keyFile = keyFile ?? audit.keyFile
            origin = origin ?? AuditWiring.origin(audit)
        }
        guard let keyFile else { return 1 }
        switch AuditWiring.signingKey(keyFile) {
        case .failure(let error):
            Stderr.line("postern audit key: \(error)")
            return 1
        case .success(let key):
            do {
                print(try NoteVerifierKey(name: origin ?? "postern", publicKey: key.publicKey).encoded)
                return 0
            } catch {
                Stderr.line("postern audit key: \(error)")
                return 1
            }
        }
    }

    private static func check(_ options: AuditOptions) -> Int32 {
        if options.throughAdmin { return openThroughAdmin(options) }
        guard let key = verifierKey(options.key!) else { return 2 }
        var files: [(name: String, bytes: [UInt8])] = []
        for name in options.files {
            switch readWhole(name) {
            case .success(let bytes): files.append((name, bytes))
            case .failure(let why):
                Stderr.line("postern audit: \(name): \(why)")
                return 1
            }
        }
        let verifier = AuditVerifier(key: key)
        for file in AuditVerifier.order(files) { verifier.check(file: file.name, bytes: file.bytes) }
        verifier.finish()
        if options.verb != .verify {
            guard !verifier.failed else {
                verifier.findings.filter { $0.severity == .error }.forEach { Stderr.line($0.description) }
                return 1
            }
            return options.verb == .prove ? prove(options, verifier) : show(options, files)
        }
        var failed = verifier.failed
        for finding in verifier.findings { Stderr.line(finding.description) }
        if let span = verifier.alteredSpan, !options.copies.isEmpty { placeAlteration(span, verifier, key: key, options.copies) }
        if !failed, let trusted = options.trusted {
            failed = !checkTrusted(trusted, key: key, witness: options.witness, verifier)
        }
        if !failed, let maxAge = options.maxAge { failed = !checkAge(maxAge, verifier) }
        guard !failed else { return 1 }
        let signed = verifier.checkpoints.last?.checkpoint.size ?? verifier.start.size
        var summary = "ok: \(verifier.frontier?.size ?? 0) records in \(files.count) file(s), signed up to \(signed)"
        if let time = verifier.newestSignedTime {
            summary += "; newest signed record at \(AuditClock.text(time)) (\(verifier.newestSignedKind ?? "?"))"
        }
        print(summary)
        return 0
    }

    /// Names the altered records of a span the signatures no longer match, by another
    /// copy of the log (the standard output copy, a SIEM's, a backup) that verifies
    /// through that span: the records whose bytes differ from it are the altered ones.
    private static func placeAlteration(_ span: Range<UInt64>, _ verifier: AuditVerifier, key: NoteVerifierKey,
                                        _ copies: [String]) {
        var files: [(name: String, bytes: [UInt8])] = []
        for name in copies {
            guard case .success(let bytes) = readWhole(name) else { continue }
            files.append((name, bytes))
        }
        let copy = AuditVerifier(key: key)
        for file in AuditVerifier.order(files) { copy.check(file: file.name, bytes: file.bytes) }
        // A checkpoint of the copy that verified past the span vouches for its records there.
        guard span.lowerBound < span.upperBound, copy.signs(span.upperBound - 1), copy.leaf(span.lowerBound) != nil else {
            Stderr.line("note: the copy does not verify through records \(span.lowerBound)..<\(span.upperBound): "
                        + "it cannot say which one was altered")
            return
        }
        let altered = span.filter { copy.leaf($0) != nil && copy.leaf($0) != verifier.leaf($0) }
        for index in altered {
            Stderr.line("error: record \(index) differs from the copy, whose signed checkpoint covers it: record \(index) was altered")
        }
        if altered.isEmpty { Stderr.line("note: every record of the span matches the copy: they were reordered or the checkpoint altered") }
    }

    /// A checkpoint kept from an earlier look must still be the log's tree at its size.
    private static func checkTrusted(_ file: String, key: NoteVerifierKey, witness: String?, _ verifier: AuditVerifier) -> Bool {
        guard case .success(let bytes) = readWhole(file),
              let text = SignedNote.open(String(decoding: bytes, as: UTF8.self), key: key),
              let trusted = Checkpoint(text: text) else {
            Stderr.line("error: \(file): not a checkpoint signed by \(key.name)")
            return false
        }
        if let witness {
            let witnessKey: NoteVerifierKey
            do {
                witnessKey = try NoteVerifierKey(encoded: TextFile.read(witness) ?? witness, type: NoteVerifierKey.cosignatureV1)
            } catch {
                Stderr.line("error: --witness: \(error)")
                return false
            }
            guard let signatures = SignedNote.parts(String(decoding: bytes, as: UTF8.self))?.signatures,
                  let time = Cosignature.verify(signatures, checkpointText: text, witness: witnessKey) else {
                Stderr.line("error: \(file): no valid cosignature by the witness \(witnessKey.name)")
                return false
            }
            print("witness \(witnessKey.name) cosigned size \(trusted.size) at \(AuditClock.text(Double(time)))")
        }
        guard let root = verifier.root(size: trusted.size) else {
            Stderr.line("error: the files do not cover the trusted checkpoint's size \(trusted.size)")
            return false
        }
        guard root == trusted.root else {
            Stderr.line("error: the log's first \(trusted.size) records differ from the trusted checkpoint's: rewritten")
            return false
        }
        return true
    }

    private static func checkAge(_ maxAge: Duration, _ verifier: AuditVerifier) -> Bool {
        let now = AuditClock.now()
        guard let newest = verifier.newestSignedTime, now - newest <= maxAge.seconds else {
            let age = verifier.newestSignedTime.map { "\(Int(now - $0))s old" } ?? "missing"
            Stderr.line("error: the newest signed record is \(age), more than --max-age \(maxAge): "
                        + "the log was cut short, or Postern stopped writing it")
            return false
        }
        return true
    }

    private static func prove(_ options: AuditOptions, _ verifier: AuditVerifier) -> Int32 {
        guard verifier.start.size == 0 else {
            Stderr.line("postern audit prove: the files must include the log's first one")
            return 1
        }
        let checkpoints = verifier.checkpoints
        let wanted = options.size.map { size in checkpoints.last { $0.checkpoint.size == size } } ?? checkpoints.last
        guard let target = wanted else {
            Stderr.line("postern audit prove: no signed checkpoint of that size")
            return 1
        }
        let tree = MerkleTree(leafHashes: verifier.leaves)
        let size = Int(target.checkpoint.size)
        let b64 = { (hash: [UInt8]) in JSONText.quote(Base64URL.encodeStandard(hash)) }
        var json = "{\"origin\":\(JSONText.quote(target.checkpoint.origin)),\"size\":\(size)"
        if let index = options.index {
            guard let proof = tree.inclusionProof(index: Int(index), size: size) else {
                Stderr.line("postern audit prove: record \(index) is not in the tree of size \(size)")
                return 1
            }
            json += ",\"index\":\(index),\"leaf_hash\":\(b64(tree.leaves[Int(index)]))"
            json += ",\"inclusion_proof\":[" + proof.map(b64).joined(separator: ",") + "]"
        } else if let from = options.from {
            guard let proof = tree.consistencyProof(first: Int(from), second: size) else {
                Stderr.line("postern audit prove: size \(from) is beyond \(size)")
                return 1
            }
            json += ",\"from\":\(from),\"from_root\":\(b64(tree.root(size: Int(from))))"
            json += ",\"consistency_proof\":[" + proof.map(b64).joined(separator: ",") + "]"
        }
        json += ",\"root\":\(b64(target.checkpoint.root)),\"checkpoint\":\(JSONText.quote(target.note))}"
        print(json)
        return 0
    }

    /// One exchange's record and recording, the recording checked against the digest
    /// the signed record holds.
    private static func show(_ options: AuditOptions, _ files: [(name: String, bytes: [UInt8])]) -> Int32 {
        guard let id = options.requestID else { return 2 }
        guard let record = files.lazy.compactMap({ RecordingLookup.record(of: id, in: $0.bytes) }).last else {
            Stderr.line("postern audit show: no record of request \(id) in the files given")
            return 1
        }
        guard let digest = record["recording_sha256"]?.string else {
            if options.verb == .replay {
                Stderr.line("postern audit replay: request \(id) has no recording")
                return 1
            }
            print(JSONValue.object(["record": record]).text)
            return 0
        }
        let directory = files[0].name.lastIndex(of: "/").map { String(files[0].name[..<$0]) } ?? "."
        let candidates = options.recordings.isEmpty ? [directory + "/recordings.jsonl"] : options.recordings
        let found = candidates.lazy.compactMap { path -> [UInt8]? in
            guard case .success(let bytes) = readWhole(path) else { return nil }
            return RecordingLookup.recording(digest: digest, in: bytes)
        }.first
        guard let found, let recording = JSONValue.parse(found) else {
            Stderr.line("error: no recording of \(id) matches the digest its signed record holds "
                        + "(\(digest.prefix(16))…): missing or altered")
            return 1
        }
        return present(options, record: record, recording: recording)
    }

    /// `show`/`replay` asked of the running sidecar: it records the access, then answers.
    private static func openThroughAdmin(_ options: AuditOptions) -> Int32 {
        guard let id = options.requestID else { return 2 }
        var admin = options.admin ?? HostPort(host: "127.0.0.1", port: 9901)
        if options.admin == nil, let file = options.config {
            guard let config = loadConfig(file, ConfigOverrides()) else { return 1 }
            admin = config.admin
        }
        var members: [String: JSONValue] = ["purpose": .string(options.verb.rawValue)]
        if let to = options.targetText { members["to"] = .string(to) }
        if let reason = options.reason { members["reason"] = .string(reason) }
        guard RequestID.isAcceptable(id) else {
            Stderr.line("postern audit \(options.verb.rawValue): \(id) is not a request id")
            return 2
        }
        let path = "/admin/v1/recordings/" + id
        let call = AdminCall(method: "POST", path: path, body: JSONValue.object(members).text)
        switch AdminClient.send(call, admin: admin, credentials: options.credentials) {
        case .failure(let failure):
            Stderr.line("postern audit \(options.verb.rawValue): \(failure)")
            return 1
        case .success(let reply):
            let answer = JSONValue.parse(Array(reply.body.utf8))
            guard reply.status == 200, let record = answer?["record"], let recording = answer?["recording"] else {
                let message = answer?["error"]?["message"]?.string ?? reply.body
                Stderr.line("postern audit \(options.verb.rawValue): \(reply.status): \(message)")
                return 1
            }
            return present(options, record: record, recording: recording)
        }
    }

    /// Prints the exchange (`show`) or replays it (`replay`).
    static func present(_ options: AuditOptions, record: JSONValue, recording: JSONValue) -> Int32 {
        if options.verb == .replay { return replay(recording, to: options.target!, http2: options.http2) }
        print(JSONValue.object(["record": record, "recording": RecordingText.readable(recording)]).text)
        return 0
    }

    /// Sends the recorded request again and compares the answer with the recorded one.
    private static func replay(_ recording: JSONValue, to target: ServerAddress, http2: Bool) -> Int32 {
        let recorded = RecordedExchange(recording)
        let send = recorded.isGRPC || http2 ? HTTP2ReplayClient.send : ReplayClient.send
        switch send(target, recorded.method, recorded.path, recorded.requestHeaders, recorded.requestBody) {
        case .failure(let why):
            Stderr.line("postern audit replay: \(why)")
            return 1
        case .success(let reply):
            let differences = ReplayComparison.differences(recorded, reply)
            let summary = recorded.isGRPC ? "\(GRPCMessages.split(reply.body).count) gRPC message(s)"
                                          : "\(reply.body.count) body bytes"
            print(differences.isEmpty ? "same: status \(reply.status), \(summary)"
                                      : "differs: " + differences.joined(separator: "; "))
            return differences.isEmpty ? 0 : 3
        }
    }

    /// A verifier key given as text, or the name of a file holding it.
    private static func verifierKey(_ value: String) -> NoteVerifierKey? {
        var text = value
        if !value.contains("+"), case .success(let bytes) = readWhole(value) { text = String(decoding: bytes, as: UTF8.self) }
        do {
            return try NoteVerifierKey(encoded: text)
        } catch {
            Stderr.line("postern audit: --key: \(error)")
            return nil
        }
    }

    /// Audit files can be larger than the 16 MiB `TextFile` reads.
    private static func readWhole(_ path: String) -> Result<[UInt8], AuditError> {
        do {
            guard let bytes = try AuditFile.readAll(path) else { return .failure(.sink("no such file")) }
            return .success(bytes)
        } catch {
            return .failure(error)
        }
    }
}
