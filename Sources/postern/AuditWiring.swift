import NIOCore
import NIOPosix
import PosternAdmin
import PosternAudit
import PosternClient
import PosternConfig
import PosternCrypto
import PosternJSON

#if canImport(Glibc)
import Glibc
#endif

/// Opens the audit trail a configuration asks for and keeps it ticking on a thread of
/// its own (syncs and signatures never run on an event loop).
final class AuditWiring: Sendable {
    let log: AuditLog
    /// Syncs and checkpoints on one thread, exports on another (a slow receiver never
    /// delays a checkpoint).
    private let threads: MultiThreadedEventLoopGroup
    private let tasks: [RepeatedTask]

    private init(log: AuditLog, witnessInterval: Duration) {
        self.log = log
        threads = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(threads.makeIterator())
        var tasks = [loops[0].scheduleRepeatedTask(initialDelay: .milliseconds(250), delay: .milliseconds(250)) { _ in
            log.tick()
        }]
        for exporter in log.settings.exporters {
            tasks.append(loops[1].scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { _ in
                exporter.drain()
            })
        }
        if let witness = log.settings.witness {
            let every = TimeAmount.nanoseconds(witnessInterval.nanoseconds)
            tasks.append(loops[1].scheduleRepeatedTask(initialDelay: .milliseconds(500), delay: every) { _ in
                let before = witness.status.error
                witness.push()
                let after = witness.status
                if let error = after.error, error != before {
                    Log.info("postern: audit witness \(witness.target.key.name): \(error)")
                } else if after.error == nil, before != nil {
                    Log.info("postern: audit witness \(witness.target.key.name) cosigned \(after.witnessed ?? 0) records")
                }
            })
        }
        self.tasks = tasks
    }

    /// The trail, or why it cannot be opened (which stops start-up: nothing may be served
    /// unrecorded).
    static func open(_ config: PosternConfig) -> Result<AuditWiring?, AuditError> {
        guard let audit = config.audit else { return .success(nil) }
        // A file-size limit must fail the write (EFBIG), not kill the process.
        signal(SIGXFSZ, SIG_IGN)
        let key: SigningKey
        switch signingKey(audit.keyFile) {
        case .success(let loaded): key = loaded
        case .failure(let error): return .failure(error)
        }
        var settings = AuditSettings(path: audit.path, origin: origin(audit), key: key)
        settings.sync = audit.sync
        settings.syncInterval = audit.syncInterval.seconds
        settings.checkpointInterval = audit.checkpointInterval.seconds
        settings.heartbeat = audit.heartbeat.seconds
        settings.rotateBytes = audit.rotateSize
        settings.rotateAge = audit.rotateAge.seconds
        if audit.recordingCap != nil {
            let directory = audit.path.lastIndex(of: "/").map { String(audit.path[..<$0]) } ?? "."
            settings.recordingsPath = directory + "/recordings.jsonl"
            settings.recordingsRetention = audit.recordingRetention?.seconds
        }
        if let target = audit.syslog {
            let tls = target.caFile.map { (caFile: $0, serverName: target.serverName ?? target.address.host) }
            if tls != nil { signal(SIGPIPE, SIG_IGN) }  // SSL_write to a receiver that went away
            settings.exporters = [SyslogExporter(host: target.address.host, port: target.address.port, format: target.format,
                                                 facility: target.facility, tls: tls, origin: settings.origin,
                                                 hostname: hostname())]
        }
        if let target = audit.witness {
            do {
                let key = try NoteVerifierKey(encoded: target.key, type: NoteVerifierKey.cosignatureV1)
                let address = ServerAddress(host: target.address.host, port: target.address.port,
                                            caFile: target.useTLS ? target.caFile : nil)
                settings.witness = WitnessClient(target: .init(address: address, path: target.path, key: key),
                                                 logPath: audit.path)
                signal(SIGPIPE, SIG_IGN)
            } catch {
                return .failure(.signing("audit.witness.key: \(error)"))
            }
        }
        do {
            return .success(AuditWiring(log: try AuditLog(settings, mirror: config.requestLog ? 1 : nil),
                                        witnessInterval: audit.witness?.interval ?? .seconds(10)))
        } catch {
            return .failure(error)
        }
    }

    static func signingKey(_ file: String) -> Result<SigningKey, AuditError> {
        switch TextFile.load(file) {
        case .failure(let problem):
            return .failure(.signing("audit.key: cannot read \(file): \(problem)"))
        case .success(let pem):
            do {
                return .success(try SigningKey.ed25519(pem: pem))
            } catch {
                return .failure(.signing("audit.key: \(file): \(error)"))
            }
        }
    }

    /// `audit.origin`, else `postern/$POD_NAME`, else `postern/<hostname>`.
    static func origin(_ audit: AuditConfig) -> String {
        if let origin = audit.origin { return origin }
        if let pod = getenv("POD_NAME").map({ String(cString: $0) }), NoteVerifierKey.isValidName("postern/" + pod) {
            return "postern/" + pod
        }
        let host = hostname()
        return NoteVerifierKey.isValidName("postern/" + host) ? "postern/" + host : "postern"
    }

    static func hostname() -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        return String(cString: name)
    }

    func record(_ record: AuditRecord) { log.append(record: record.bytes) }

    /// An operator's look at a recording (admin API): found, then recorded, then handed
    /// over; nothing is handed over whose access could not be recorded.
    func open(_ access: AdminAPI.RecordingAccess) -> AdminAPI.Response {
        let found: Result<(record: JSONValue, recording: JSONValue), RecordingLookup.Miss>
        do {
            found = try RecordingLookup.find(requestID: access.requestID, logPath: log.settings.path,
                                             recordingsPath: log.settings.recordingsPath)
        } catch {
            return AdminAPI.error(500, "audit_unreadable", "\(error)")
        }
        let digest: String?
        switch found {
        case .failure(.noRecord): return AdminAPI.error(404, "not_found", "no record of request \(access.requestID)")
        case .failure(.notRecorded): return AdminAPI.error(404, "not_found", "request \(access.requestID) has no recording")
        case .failure(.noRecording(let expected)):
            return AdminAPI.error(409, "recording_altered", "no recording of \(access.requestID) matches the digest its "
                                  + "record holds (\(expected.prefix(16))…): missing or altered")
        case .success(let pair): digest = pair.record["recording_sha256"]?.string
        }
        let kind = access.purpose == "replay" ? "recording.replayed" : "recording.shown"
        let written = log.append(record: AuditRecord(kind: kind).string("actor", access.actor)
            .string("request_id", access.requestID).string("recording_sha256", digest).string("to", access.target)
            .string("reason", access.reason).bytes)
        guard written, case .success(let pair) = found else {
            return AdminAPI.error(503, "audit_unavailable", "the access could not be recorded: the audit sink is failing")
        }
        return AdminAPI.Response(status: 200, body: JSONValue.object(["record": pair.record, "recording": pair.recording]).text)
    }

    /// The stop record, a last checkpoint and sync.
    func close(_ stop: AuditRecord) {
        tasks.forEach { $0.cancel() }
        log.append(record: stop.bytes)
        log.close()
        log.settings.exporters.forEach { $0.close() }  // the stop record too, if the receiver is there
        try? threads.syncShutdownGracefully()
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
