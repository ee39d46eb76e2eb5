import PosternAudit
import PosternCore
import Yams

/// `audit`: the tamper-evident trail (docs/audit.md).
/// - `path`: the current file; rotated files sit beside it (required).
/// - `key`: PEM Ed25519 private key that signs checkpoints (required; `postern audit key`
///   prints its public half).
/// - `origin`: the log's name in its checkpoints, one per replica (default
///   `postern/$POD_NAME`, else `postern/<hostname>`).
/// - `sync`: `always` (fdatasync each batch), `interval` (default) or `never`;
///   `sync_interval` (default 1s).
/// - `checkpoint_interval` (default 2s), `heartbeat` (default 30s): signed checkpoints while
///   records arrive, and at least this often when idle.
/// - `rotate_size` (default 64MiB), `rotate_age` (default 24h).
/// - `on_failure`: `deny` (the only choice: no request is served unrecorded).
/// - `syslog`: `{address: HOST:PORT, format: json|ocsf, facility: 16, tls: {ca, server_name}}`:
///   every record also shipped as RFC 5424 over TCP, or TLS (RFC 5425) with `tls`
///   (best effort; the file is the record).
/// - `witness`: `{url: https://HOST:PORT/PREFIX, key: NAME+ID+KEY, ca: FILE, interval: 10s}`:
///   checkpoints pushed to a C2SP tlog-witness with consistency proofs; `key` is the
///   witness's cosignature/v1 verifier key (or a file holding it).
/// - `recordings`: `{max_exchange_bytes: 1MiB, retention: 7d}`: each exchange's masked
///   bodies with their timing in `recordings.jsonl` beside the log, its digest in the
///   exchange's record; rotated recording files older than `retention` are deleted.
public struct AuditConfig: Sendable, Equatable {
    public var path = ""
    public var keyFile = ""
    public var origin: String?
    public var sync = AuditSettings.Sync.interval
    public var syncInterval: Duration = .seconds(1)
    public var checkpointInterval: Duration = .seconds(2)
    public var heartbeat: Duration = .seconds(30)
    public var rotateSize = 64 << 20
    public var rotateAge: Duration = .seconds(86_400)
    public var syslog: SyslogTarget?
    public var witness: WitnessTarget?
    /// Session recordings, with the most bytes kept per exchange; nil when off.
    public var recordingCap: Int?
    public var recordingRetention: Duration?

    public struct SyslogTarget: Sendable, Equatable {
        public var address: HostPort
        public var format = SyslogExporter.Format.json
        /// RFC 5424 facility: 16 is local0.
        public var facility = 16
        /// TLS (RFC 5425): the CA file, and the name the receiver's certificate carries
        /// (default: the address's host).
        public var caFile: String?
        public var serverName: String?
    }

    public struct WitnessTarget: Sendable, Equatable {
        public var address: HostPort
        public var useTLS: Bool
        /// The submission prefix (`/add-checkpoint` is appended).
        public var path: String
        /// The witness's verifier key, `name+id+base64(0x04 ‖ key)`.
        public var key: String
        public var caFile: String?
        public var interval: Duration = .seconds(10)
    }

    public init() {}

    static let keys: Set = ["path", "key", "origin", "sync", "sync_interval", "checkpoint_interval", "heartbeat",
                            "rotate_size", "rotate_age", "on_failure", "syslog", "recordings", "witness"]

    static func decode(_ node: Node, _ d: ConfigDecoder, base: String) -> AuditConfig? {
        guard let entries = d.mapping(node, "audit", allowed: keys) else { return nil }
        var audit = AuditConfig()
        for (name, value) in entries {
            let key = "audit.\(name)"
            switch name {
            case "path": audit.path = d.file(value, key, base: base) ?? ""
            case "key": audit.keyFile = d.file(value, key, base: base) ?? ""
            case "origin":
                if let origin = d.string(value, key) {
                    if NoteVerifierKey.isValidName(origin) { audit.origin = origin }
                    else { d.report(key, value, "an origin is printable ASCII without spaces or '+'") }
                }
            case "sync": if let sync = d.choice(value, key, AuditSettings.Sync.self) { audit.sync = sync }
            case "sync_interval": if let v = d.interval(value, key) { audit.syncInterval = v }
            case "checkpoint_interval": if let v = d.interval(value, key) { audit.checkpointInterval = v }
            case "heartbeat": if let v = d.interval(value, key) { audit.heartbeat = v }
            case "rotate_age": if let v = d.interval(value, key) { audit.rotateAge = v }
            case "rotate_size":
                if let v = d.parse(value, key, ConfigValues.byteSize) {
                    if v >= 4096 { audit.rotateSize = v } else { d.report(key, value, "at least 4KiB") }
                }
            case "syslog": audit.syslog = decodeSyslog(value, d, base: base)
            case "witness": audit.witness = decodeWitness(value, d, base: base)
            case "recordings":
                audit.recordingCap = 1 << 20
                for (field, item) in d.mapping(value, key, allowed: ["max_exchange_bytes", "retention"]) ?? [] {
                    if field == "retention" {
                        audit.recordingRetention = d.interval(item, "\(key).retention")
                    } else if let cap = d.parse(item, "\(key).\(field)", ConfigValues.byteSize) {
                        audit.recordingCap = cap
                    }
                }
            case "on_failure":
                if d.string(value, key) != "deny" {
                    d.report(key, value, "only deny: a request that cannot be recorded is not served")
                }
            default: break
            }
        }
        if audit.path.isEmpty { d.report("audit.path", node, "the audit trail needs a path") }
        if audit.keyFile.isEmpty { d.report("audit.key", node, "the audit trail needs a signing key (Ed25519 PEM)") }
        return audit
    }
}

extension AuditConfig {
    static func decodeSyslog(_ node: Node, _ d: ConfigDecoder, base: String) -> SyslogTarget? {
        guard let entries = d.mapping(node, "audit.syslog", allowed: ["address", "format", "facility", "tls"]) else {
            return nil
        }
        var address: HostPort?
        var format = SyslogExporter.Format.json
        var facility = 16
        var caFile: String?, serverName: String?
        for (name, value) in entries {
            let key = "audit.syslog.\(name)"
            switch name {
            case "address": address = d.parse(value, key, ConfigValues.hostPort)
            case "format": format = d.choice(value, key, SyslogExporter.Format.self) ?? format
            case "tls":
                for (field, item) in d.mapping(value, key, allowed: ["ca", "server_name"]) ?? [] {
                    if field == "ca" { caFile = d.file(item, "\(key).ca", base: base) } else { serverName = d.string(item, "\(key).server_name") }
                }
                if caFile == nil { d.report("\(key).ca", value, "TLS to the receiver needs the CA file its certificate chains to") }
            default: facility = d.integer(value, key, range: 0...23) ?? facility
            }
        }
        guard let address else {
            d.report("audit.syslog.address", node, "syslog needs an address (HOST:PORT of a TCP receiver)")
            return nil
        }
        return SyslogTarget(address: address, format: format, facility: facility, caFile: caFile, serverName: serverName)
    }
}

extension AuditConfig {
    static func decodeWitness(_ node: Node, _ d: ConfigDecoder, base: String) -> WitnessTarget? {
        guard let entries = d.mapping(node, "audit.witness", allowed: ["url", "key", "ca", "interval"]) else { return nil }
        var url: (HostPort, Bool, String)?
        var key: String?, caFile: String?
        var interval: Duration = .seconds(10)
        for (name, value) in entries {
            let field = "audit.witness.\(name)"
            switch name {
            case "url":
                guard let text = d.string(value, field) else { continue }
                url = ConfigValues.httpURL(text)
                if url == nil { d.report(field, value, "a witness is http://HOST:PORT[/PREFIX] or https://HOST:PORT[/PREFIX]") }
            case "key":
                guard var text = d.string(value, field) else { continue }
                if !text.contains("+"), let file = d.file(value, field, base: base) {
                    guard let contents = TextFile.read(file) else {
                        d.report(field, value, "cannot read the witness key file \(file)")
                        continue
                    }
                    text = contents
                }
                do {
                    key = try NoteVerifierKey(encoded: text, type: NoteVerifierKey.cosignatureV1).encoded
                } catch {
                    d.report(field, value, "\(error)")
                }
            case "ca": caFile = d.file(value, field, base: base)
            default: interval = d.interval(value, field) ?? interval
            }
        }
        guard let (address, useTLS, path) = url, let key else {
            if url == nil { d.report("audit.witness.url", node, "a witness needs its url") }
            if key == nil { d.report("audit.witness.key", node, "a witness needs its verifier key (cosignature/v1)") }
            return nil
        }
        if useTLS, caFile == nil { d.report("audit.witness.ca", node, "https to the witness needs the CA file its certificate chains to") }
        return WitnessTarget(address: address, useTLS: useTLS, path: path, key: key, caFile: caFile, interval: interval)
    }
}

extension ConfigDecoder {
    /// A duration above zero.
    func interval(_ node: Node, _ key: String) -> Duration? {
        guard let value = parse(node, key, ConfigValues.duration) else { return nil }
        guard value > .zero else {
            report(key, node, "must be above zero")
            return nil
        }
        return value
    }
}
