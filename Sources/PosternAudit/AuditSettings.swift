import PosternCrypto

/// How the audit trail is written: where, under which name, signed by which key, and how
/// hard it tries to be durable.
public struct AuditSettings: Sendable {
    public enum Sync: String, Sendable, CaseIterable {
        /// fdatasync after every batch of records, before the responses they describe finish.
        case always
        /// fdatasync at most every `syncInterval` (group commit; a power cut loses at most that).
        case interval
        /// Leave it to the kernel; a crash of Postern loses nothing, a power cut may.
        case never
    }

    public var path: String
    /// The log's name in its checkpoints and the key name of its signatures: one per replica.
    public var origin: String
    public var key: SigningKey
    public var sync: Sync = .interval
    public var syncInterval: Double = 1
    /// Checkpoints at most this often while records arrive...
    public var checkpointInterval: Double = 2
    /// ...and at least this often when idle (a heartbeat record, then a checkpoint), so a
    /// log cut short shows its age.
    public var heartbeat: Double = 30
    public var rotateBytes: Int = 64 << 20
    public var rotateAge: Double = 86_400
    /// Records held in memory while the sink fails (refusals still recorded on recovery).
    public var retainLimit: Int = 16 << 20

    /// Session recordings (`recordings.jsonl` beside the log), when on.
    public var recordingsPath: String?
    /// Rotated recording files older than this are deleted (the deletion is a record);
    /// nil keeps them.
    public var recordingsRetention: Double?
    /// Where each written record is also shipped (best effort).
    public var exporters: [SyslogExporter] = []
    /// The witness that cosigns the checkpoints, when one is configured.
    public var witness: WitnessClient?

    public init(path: String, origin: String, key: SigningKey) {
        self.path = path
        self.origin = origin
        self.key = key
    }
}
