import PosternClient
import PosternConfig

/// What `postern audit` was asked to do.
struct AuditOptions {
    enum Verb: String { case key, verify, prove, show, replay }
    var verb: Verb
    var files: [String] = []
    /// `key`: the private key file (or the configuration's `audit.key`); `verify` and
    /// `prove`: the verifier key, as text or in a file.
    var key: String?
    var config: String?
    var origin: String?
    var trusted: String?
    /// `verify`: other copies of the log, to name an altered record within a signed span.
    var copies: [String] = []
    /// `verify --trusted`: a witness whose cosignature the trusted checkpoint must carry.
    var witness: String?
    var maxAge: Duration?
    var index: UInt64?
    var from: UInt64?
    var size: UInt64?
    /// `show`: the exchange's request id, and recording files (default: beside the log).
    var requestID: String?
    var recordings: [String] = []
    /// `replay`: the model server to send the recorded request to, and whether over HTTP/2
    /// (always for gRPC).
    var target: ServerAddress?
    var targetText: String?
    var http2 = false
    /// `show` and `replay` through the running sidecar's admin API (no FILEs): its
    /// address, the operator's token and why they look.
    var admin: HostPort?
    var credentials = AdminCredentials()
    var reason: String?

    /// Asked of the sidecar, which records the access, rather than read from files.
    var throughAdmin: Bool { (verb == .show || verb == .replay) && files.isEmpty && (admin != nil || config != nil) }

    static let usage = """
      postern audit key (--config FILE | --key PRIVATE.pem [--origin NAME])
      postern audit verify FILE... --key VERIFIER [--trusted CHECKPOINT [--witness KEY]] [--max-age DURATION]
                           [--copy FILE]...
      postern audit prove FILE... --key VERIFIER (--index N | --from SIZE) [--size SIZE]
      postern audit show REQUEST_ID (FILE... --key VERIFIER [--recordings FILE]... | ADMIN [--reason TEXT])
      postern audit replay REQUEST_ID (FILE... --key VERIFIER [--recordings FILE]... | ADMIN [--reason TEXT])
                           --to URL [--ca FILE] [--http2]
    """

    static let help = """
    audit    key: prints the note verifier key (name+id+key) that checks the log's
               checkpoints, from the private key and the log's origin.
             verify: recomputes the Merkle tree of the files (any order; rotated files
               included) and checks every signed checkpoint. Reports the first record
               altered, inserted, deleted or reordered, a forged checkpoint, a missing
               file or a torn tail; exit 1 on any. --trusted: a checkpoint saved
               earlier must still be in the log (it only grew); with --witness, it
               must carry that witness's cosignature (checkpoint.cosigned beside the
               log is the newest one a witness gave). --max-age: the newest
               signed record must be this recent (a log cut short shows its age).
               --copy: another copy of the log (standard output, a SIEM's export)
               that names the altered record within a span a checkpoint signs.
             prove: an inclusion proof of record N (--index) or a consistency proof
               from an earlier tree size (--from), against the newest checkpoint or
               the one of --size, as JSON (RFC 9162 proofs, base64 hashes).
             show: the record of one exchange and its session recording (request
               and response, masked, with the time of every chunk), after checking
               the log and that the recording matches the digest in its record.
               With ADMIN (--config FILE or --admin HOST:PORT, --token-file F; over
               admin.tls --admin-ca FILE, and --admin-cert/--admin-key or a token)
               instead of FILEs, the running sidecar finds it and records who
               looked, why (--reason) and where a replay goes before it answers.
             replay: sends the recorded request (as recorded: masked, without
               credentials) to a model server and reports whether its answer
               matches the recorded one (status, body, gRPC messages and status);
               exit 3 if it differs. --to HOST:PORT or http://… (cleartext) or
               https://… with --ca FILE; HTTP/1.1, or HTTP/2 for gRPC and --http2.
    """

    static func parse(_ args: ArraySlice<String>) throws -> AuditOptions {
        var rest = args
        guard let word = rest.popFirst(), let verb = Verb(rawValue: word) else {
            throw UsageError(description: "audit takes key, verify or prove")
        }
        var options = AuditOptions(verb: verb)
        func value(_ flag: String) throws -> String {
            guard let next = rest.popFirst() else { throw UsageError(description: "\(flag) needs a value") }
            return next
        }
        func number(_ flag: String) throws -> UInt64 {
            guard let n = UInt64(try value(flag)) else { throw UsageError(description: "\(flag) takes a number") }
            return n
        }
        var targetText: String?
        var caFile: String?
        while let arg = rest.popFirst() {
            switch arg {
            case "--key": options.key = try value(arg)
            case "--config", "-c": options.config = try value(arg)
            case "--origin": options.origin = try value(arg)
            case "--trusted": options.trusted = try value(arg)
            case "--witness": options.witness = try value(arg)
            case "--copy": options.copies.append(try value(arg))
            case "--max-age":
                let text = try value(arg)
                guard case .success(let age) = ConfigValues.duration(text) else {
                    throw UsageError(description: "--max-age takes a duration (e.g. 90s)")
                }
                options.maxAge = age
            case "--index": options.index = try number(arg)
            case "--from": options.from = try number(arg)
            case "--size": options.size = try number(arg)
            case "--recordings": options.recordings.append(try value(arg))
            case "--to": targetText = try value(arg)
            case "--admin":
                guard case .success(let address) = ConfigValues.hostPort(try value(arg)) else {
                    throw UsageError(description: "--admin takes HOST:PORT")
                }
                options.admin = address
            // --ca and --key are the replay target's and the log's: the admin API's are named so.
            case "--token-file": options.credentials.tokenFile = try value(arg)
            case "--admin-ca": options.credentials.caFile = try value(arg)
            case "--admin-cert": options.credentials.certificateFile = try value(arg)
            case "--admin-key": options.credentials.keyFile = try value(arg)
            case "--reason": options.reason = try value(arg)
            case "--ca": caFile = try value(arg)
            case "--http2": options.http2 = true
            case _ where arg.hasPrefix("-"): throw UsageError(description: "unknown option \(arg)")
            default:
                if verb == .show || verb == .replay, options.requestID == nil { options.requestID = arg } else { options.files.append(arg) }
            }
        }
        switch verb {
        case .key:
            guard options.config != nil || options.key != nil else {
                throw UsageError(description: "audit key needs --config FILE or --key PRIVATE.pem")
            }
        case .verify, .prove, .show, .replay:
            guard options.throughAdmin || !options.files.isEmpty && options.key != nil else {
                throw UsageError(description: "audit \(verb.rawValue) needs FILE... and --key VERIFIER")
            }
            if verb == .replay {
                guard let targetText else { throw UsageError(description: "audit replay needs --to URL") }
                switch ServerAddress.parse(targetText, caFile: caFile) {
                case .success(let address):
                    options.target = address
                    options.targetText = targetText
                case .failure(let error): throw error
                }
            }
            if verb == .prove, (options.index == nil) == (options.from == nil) {
                throw UsageError(description: "audit prove takes one of --index N or --from SIZE")
            }
        }
        return options
    }
}
