import PosternConfig
import PosternCore

/// What the command line asked for.
enum Command {
    case run(configFile: String?, overrides: ConfigOverrides)
    case check(configFile: String)
    case token(configFile: String, repeat: Int)
    case mask(configFile: String, MaskOptions)
    case explain(configFile: String, caller: String?, method: String, path: String, body: String?, repeat: Int)
    /// `approvals`, `grants`, `revoke`, `revocations`: a call of the running sidecar's admin API.
    case admin(configFile: String?, admin: HostPort?, AdminCall, credentials: AdminCredentials)
    case audit(AuditOptions)
    case help
    case version
}

/// What `postern mask` was asked to do.
struct MaskOptions {
    var policy: String?
    /// json, sse, text, grpc (length-prefixed messages) or protobuf (one message).
    var format = "json"
    /// FileDescriptorSet files beyond the policy's own `descriptor_sets`.
    var descriptorSets: [String] = []
    /// The fully qualified protobuf message type, for grpc and protobuf.
    var messageType: String?
}

struct UsageError: Error, CustomStringConvertible {
    var description: String
}

enum Arguments {
    static let usage = """
    postern: a sidecar that guards a model server with short-lived workload identities.

    Usage:
      postern run [--config FILE] [--listen HOST:PORT] [--admin HOST:PORT]
                  [--upstream [NAME=]URL]...
      postern check FILE
      postern token --config FILE [--repeat N] < TOKEN
      postern mask --config FILE [--policy NAME] [--format json|sse|ndjson|text] < IN > OUT
      postern mask --config FILE [--policy NAME] --format grpc|protobuf
                   [--descriptor-set FILE]... --message-type TYPE < IN > OUT
      postern explain --config FILE [--caller ID] [--method M] --path PATH [--body FILE] [--repeat N]
      postern approvals ADMIN list | show ID | approve ID | deny ID [--reason R]
      postern grants ADMIN list | revoke ID
      postern revoke ADMIN --identity ID | --pattern P | --token-id JTI | --certificate-serial HEX
                     [--reason R] [--until SECONDS]
      postern revocations ADMIN list | remove ID
        (ADMIN: --config FILE or --admin HOST:PORT, and --token-file F, or with admin.tls
         --ca FILE and your certificate: --cert FILE --key FILE)
    \(AuditOptions.usage)
      postern --help | --version

    run      Runs the sidecar. Command-line values override the file's:
               --listen    where callers connect (data path)
               --admin     where /healthz and /readyz are served (keep it on 127.0.0.1)
               --upstream  a model server port: http://HOST:PORT (HTTP/1.1) or
                           h2c://HOST:PORT (cleartext HTTP/2, needed for gRPC);
                           repeatable, NAME defaults to 'default'
    check    Validates a configuration file and the credential files it names, and
             prints every problem; exit 1 if any.
    token    Checks a bearer token (read from standard input) as the data path would:
             prints the principal as JSON, or the reason it is refused (exit 1).
             --repeat N verifies it N times and reports the time per verification.

    explain  Prints, as JSON, what Postern would do with a request, sending nothing: the
             normalised path, the route, the operation (function, name, model) and the
             decision with the rule that made it (and the shadow rules' decision).
             --caller is the verified identity (none: an anonymous caller);
             --method defaults to GET; --body FILE is the JSON request body, which
             the decision reads where a rule names models or a guard applies;
             --repeat N classifies and decides N times and
             reports the time per decision.

    mask     Masks standard input to standard output with a policy from the file (the
             'default' one unless --policy names another), as the data path would
             mask a response: json (default), sse (text/event-stream), ndjson
             (application/x-ndjson) or text;
             grpc (length-prefixed gRPC messages) or protobuf (one message) of
             TYPE (e.g. inference.ModelInferResponse), by the policy's descriptor_sets
             and any --descriptor-set files. Exit 1, with the reason, if the input
             cannot be parsed.

    approvals, grants, revoke, revocations
             Call the running sidecar's admin API (--admin, or admin.address in FILE) with your own
             short-lived token (--token-file, or POSTERN_ADMIN_TOKEN) and print its JSON
             answer; exit 1 unless it succeeded.

    \(AuditOptions.help)

    SIGTERM or SIGINT drains: new connections are refused, HTTP/2 callers get GOAWAY,
    HTTP/1.1 callers 'Connection: close', in-flight requests get limits.drain_grace_period.
    """

    static func parse(_ args: [String]) throws -> Command {
        guard let verb = args.first else { return .help }
        var rest = args.dropFirst()
        // `postern check --help` asks for help; it is not a file called --help.
        if rest.contains(where: { $0 == "-h" || $0 == "--help" }) { return .help }
        func value(_ flag: String) throws -> String {
            guard let next = rest.popFirst() else { throw UsageError(description: "\(flag) needs a value") }
            return next
        }
        switch verb {
        case "-h", "--help", "help":
            return .help
        case "-V", "--version", "version":
            return .version
        case "check":
            guard rest.count == 1, let file = rest.first else {
                throw UsageError(description: "check takes exactly one FILE")
            }
            return .check(configFile: file)
        case "token":
            var file: String?
            var count = 1
            while let flag = rest.popFirst() {
                switch flag {
                case "--config", "-c": file = try value(flag)
                case "--repeat":
                    guard let n = Int(try value(flag)), n > 0, n <= 10_000_000 else {
                        throw UsageError(description: "--repeat takes a count from 1 to 10000000")
                    }
                    count = n
                default: throw UsageError(description: "unknown option \(flag)")
                }
            }
            guard let file else { throw UsageError(description: "token needs --config FILE") }
            return .token(configFile: file, repeat: count)
        case "explain":
            var file: String?, caller: String?, method = "GET", path: String?, body: String?, count = 1
            while let flag = rest.popFirst() {
                switch flag {
                case "--config", "-c": file = try value(flag)
                case "--caller": caller = try value(flag)
                case "--repeat":
                    guard let n = Int(try value(flag)), n > 0, n <= 100_000_000 else {
                        throw UsageError(description: "--repeat takes a count from 1 to 100000000")
                    }
                    count = n
                case "--method": method = try value(flag)
                case "--path": path = try value(flag)
                case "--body": body = try value(flag)
                default: throw UsageError(description: "unknown option \(flag)")
                }
            }
            guard let file, let path else { throw UsageError(description: "explain needs --config FILE and --path PATH") }
            return .explain(configFile: file, caller: caller, method: method, path: path, body: body, repeat: count)
        case "mask":
            var file: String?
            var options = MaskOptions()
            while let flag = rest.popFirst() {
                switch flag {
                case "--config", "-c": file = try value(flag)
                case "--policy": options.policy = try value(flag)
                case "--format":
                    options.format = try value(flag)
                    guard ["json", "sse", "ndjson", "text", "grpc", "protobuf"].contains(options.format) else {
                        throw UsageError(description: "--format takes json, sse, ndjson, text, grpc or protobuf")
                    }
                case "--descriptor-set": options.descriptorSets.append(try value(flag))
                case "--message-type": options.messageType = try value(flag)
                default: throw UsageError(description: "unknown option \(flag)")
                }
            }
            guard let file else { throw UsageError(description: "mask needs --config FILE") }
            if ["grpc", "protobuf"].contains(options.format), options.messageType == nil {
                throw UsageError(description: "--format \(options.format) needs --message-type TYPE")
            }
            return .mask(configFile: file, options)
        case "approvals", "grants", "revoke", "revocations":
            return try adminCall(verb, Array(rest))
        case "audit":
            return .audit(try AuditOptions.parse(rest))
        case "run":
            var file: String?
            var overrides = ConfigOverrides()
            while let flag = rest.popFirst() {
                switch flag {
                case "--config", "-c":
                    file = try value(flag)
                case "--listen":
                    overrides.listen = try hostPort(value(flag), flag)
                case "--admin":
                    overrides.admin = try hostPort(value(flag), flag)
                case "--upstream":
                    overrides.upstreams.append(ConfigOverrides.upstreamArgument(try value(flag)))
                default:
                    throw UsageError(description: "unknown option \(flag)")
                }
            }
            return .run(configFile: file, overrides: overrides)
        default:
            throw UsageError(description: "unknown command \(verb)")
        }
    }

    private static func adminCall(_ verb: String, _ args: [String]) throws -> Command {
        var file: String?, reason: String?, until: String?, subject: (String, String)?
        var credentials = AdminCredentials()
        var address: HostPort?
        var words: [String] = []
        var rest = args[...]
        func value(_ flag: String) throws -> String {
            guard let next = rest.popFirst() else { throw UsageError(description: "\(flag) needs a value") }
            return next
        }
        let subjects = ["--identity": "identity", "--pattern": "pattern", "--token-id": "token_id",
                        "--certificate-serial": "certificate_serial"]
        while let arg = rest.popFirst() {
            switch arg {
            case "--config", "-c": file = try value(arg)
            case _ where try credentials.read(arg, { try value(arg) }): continue
            case "--admin": address = try hostPort(value(arg), arg)
            case "--reason": reason = try value(arg)
            case "--until": until = try value(arg)
            case _ where subjects[arg] != nil:
                guard subject == nil else { throw UsageError(description: "revoke takes one subject") }
                subject = (subjects[arg]!, try value(arg))
            case _ where arg.hasPrefix("-"): throw UsageError(description: "unknown option \(arg)")
            default: words.append(arg)
            }
        }
        guard file != nil || address != nil else {
            throw UsageError(description: "\(verb) needs --config FILE or --admin HOST:PORT (where the admin API listens)")
        }
        let reasonJSON = reason.map { "{\"reason\":\(JSONText.quote($0))}" } ?? "{}"
        let call: AdminCall
        switch (verb, words.first, words.count) {
        case ("approvals", "list", 1): call = AdminCall(method: "GET", path: "/admin/v1/approvals")
        case ("approvals", "show", 2): call = AdminCall(method: "GET", path: "/admin/v1/approvals/\(words[1])")
        case ("approvals", "approve", 2), ("approvals", "deny", 2):
            call = AdminCall(method: "POST", path: "/admin/v1/approvals/\(words[1])/\(words[0])", body: reasonJSON)
        case ("grants", "list", 1): call = AdminCall(method: "GET", path: "/admin/v1/grants")
        case ("grants", "revoke", 2): call = AdminCall(method: "DELETE", path: "/admin/v1/grants/\(words[1])")
        case ("revocations", "list", 1): call = AdminCall(method: "GET", path: "/admin/v1/revocations")
        case ("revocations", "remove", 2): call = AdminCall(method: "DELETE", path: "/admin/v1/revocations/\(words[1])")
        case ("revoke", nil, 0):
            guard let (kind, value) = subject else {
                throw UsageError(description: "revoke needs --identity, --pattern, --token-id or --certificate-serial")
            }
            var fields = ["\"\(kind)\":\(JSONText.quote(value))"]
            if let reason { fields.append("\"reason\":\(JSONText.quote(reason))") }
            if let until {
                guard let seconds = Int64(until) else { throw UsageError(description: "--until takes seconds since the epoch") }
                fields.append("\"until\":\(seconds)")
            }
            call = AdminCall(method: "POST", path: "/admin/v1/revocations", body: "{" + fields.joined(separator: ",") + "}")
        default:
            throw UsageError(description: "\(verb): unexpected \(words.joined(separator: " ")) (see --help)")
        }
        return .admin(configFile: file, admin: address, call, credentials: credentials)
    }

    private static func hostPort(_ text: String, _ flag: String) throws -> HostPort {
        switch ConfigValues.hostPort(text) {
        case .success(let address): return address
        case .failure(let error): throw UsageError(description: "\(flag): \(error)")
        }
    }
}
