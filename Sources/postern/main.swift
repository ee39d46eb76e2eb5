import Dispatch
import PosternConfig
import PosternMasking
import PosternTLS

#if canImport(Glibc)
import Glibc
#endif

/// Loads, overrides and validates a configuration, or prints every problem (as JSON lines
/// when the file asks for `runtime.log_format: json`, even if other keys are wrong).
func loadConfig(_ file: String?, _ overrides: ConfigOverrides) -> PosternConfig? {
    let draft = PosternConfig.assemble(file: file, overrides: overrides)
    Log.format = draft.config.logFormat
    for problem in draft.problems { Log.error(problem.description) }
    return draft.problems.isEmpty ? draft.config : nil
}

/// Reads every credential file the configuration names, or prints every problem.
func loadCredentials(_ config: PosternConfig) -> Credentials? {
    switch Credentials.load(config) {
    case .success(let credentials):
        return credentials
    case .failure(let problems):
        for problem in problems.problems { Log.error(problem) }
        return nil
    }
}

/// Builds every masking policy (reading hash key files), or prints why not.
func loadMasking(_ config: PosternConfig) -> [String: MaskingPolicy]? {
    var policies: [String: MaskingPolicy] = [:]
    var ok = true
    for settings in config.masking {
        switch MaskingPolicy.build(settings) {
        case .success(let policy): policies[settings.name] = policy
        case .failure(let error):
            Log.error(error.description)
            ok = false
        }
    }
    return ok ? policies : nil
}

let command: Command
do {
    command = try Arguments.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    Stderr.line("postern: \(error)\n\n\(Arguments.usage)")
    exit(2)
}

switch command {
case .help:
    print(Arguments.usage)
case .version:
    print("postern \(Version.current)")
case .check(let file):
    // Every problem in one pass: the file's, then its credential files' and masking policies'.
    let draft = PosternConfig.assemble(file: file, overrides: ConfigOverrides())
    for problem in draft.problems { Stderr.line(problem.description) }
    let readable = draft.problems.allSatisfy { !$0.key.isEmpty || $0.line != nil }
    let credentials = readable ? loadCredentials(draft.config) : nil
    let unavailable = credentials?.unavailableUpstreamCredentials ?? []
    for problem in unavailable { Stderr.line(problem) }
    let credentialsOK = !readable || (credentials != nil && unavailable.isEmpty)
    let maskingOK = !readable || loadMasking(draft.config) != nil
    var auditOK = true
    if readable, let audit = draft.config.audit, case .failure(let problem) = AuditWiring.signingKey(audit.keyFile) {
        Stderr.line("\(file): \(problem)")
        auditOK = false
    }
    for warning in draft.config.policy.warnings { Stderr.line("\(file): \(warning.key): warning: \(warning.message)") }
    guard draft.problems.isEmpty, credentialsOK, maskingOK, auditOK else { exit(1) }
    print("\(file): ok")
case .token(let file, let count):
    guard let config = loadConfig(file, ConfigOverrides()), let credentials = loadCredentials(config) else { exit(1) }
    exit(TokenCommand.run(credentials: credentials, repeat: count))
case .explain(let file, let caller, let method, let path, let bodyFile, let count):
    guard let config = loadConfig(file, ConfigOverrides()) else { exit(1) }
    var body: [UInt8]?
    if let bodyFile {
        switch TextFile.load(bodyFile) {
        case .success(let bytes): body = bytes
        case .failure(let problem):
            Stderr.line("postern: --body \(bodyFile): \(problem)")
            exit(1)
        }
    }
    if count > 1, let caller { DecisionTiming.report(config, caller: caller, method: method, path: path, count: count) }
    print(config.explain(caller: caller, method: method, path: path, body: body).json)
case .admin(let file, let address, let call, let credentials):
    var admin = address ?? HostPort(host: "127.0.0.1", port: 9901)
    if address == nil, let file {
        guard let config = loadConfig(file, ConfigOverrides()) else { exit(1) }
        admin = config.admin
        if config.adminTLS, credentials.caFile == nil {
            Stderr.line("postern: \(file) serves the admin API over TLS (admin.tls): --ca FILE, and --cert/--key or a token")
            exit(2)
        }
    }
    exit(AdminClient.run(call, admin: admin, credentials: credentials))
case .audit(let options):
    exit(AuditCommand.run(options))
case .mask(let file, let options):
    guard let config = loadConfig(file, ConfigOverrides()) else { exit(1) }
    exit(MaskCommand.run(config: config, options))
case .run(let file, let overrides):
    guard let config = loadConfig(file, overrides), let masking = loadMasking(config) else { exit(1) }
    // The main thread waits here rather than in an async main, which parks it in
    // dispatch_main: valgrind cannot follow that, and callgrind's instruction counts are the
    // benchmarks' noise-free figure (bench/run --instructions).
    let stopped = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var succeeded = false
    Task.detached {
        do {
            succeeded = try await RunCommand.run(config: config, masking: masking, file: file, overrides: overrides)
        } catch {
            Log.error("postern: \(error)")
        }
        stopped.signal()
    }
    stopped.wait()
    exit(succeeded ? 0 : 1)
}
