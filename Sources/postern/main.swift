import PosternConfig
import PosternMasking
import PosternTLS

#if canImport(Glibc)
import Glibc
#endif

/// Loads, overrides and validates a configuration, or prints every problem.
func loadConfig(_ file: String?, _ overrides: ConfigOverrides) -> PosternConfig? {
    let base: Result<PosternConfig, ConfigProblems> = file.map(PosternConfig.load(file:)) ?? .success(PosternConfig())
    let result = base
        .flatMap { $0.applying(overrides) }
        .flatMap { $0.validated(file: file ?? "command line") }
    switch result {
    case .success(let config):
        return config
    case .failure(let problems):
        for problem in problems.problems { Stderr.line(problem.description) }
        return nil
    }
}

/// Reads every credential file the configuration names, or prints every problem.
func loadCredentials(_ config: PosternConfig) -> Credentials? {
    switch Credentials.load(config) {
    case .success(let credentials):
        return credentials
    case .failure(let problems):
        for problem in problems.problems { Stderr.line(problem) }
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
            Stderr.line(error.description)
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
    guard let config = loadConfig(file, ConfigOverrides()), loadCredentials(config) != nil, loadMasking(config) != nil else {
        exit(1)
    }
    print("\(file): ok")
case .token(let file, let count):
    guard let config = loadConfig(file, ConfigOverrides()), let credentials = loadCredentials(config) else { exit(1) }
    exit(TokenCommand.run(credentials: credentials, repeat: count))
case .mask(let file, let options):
    guard let config = loadConfig(file, ConfigOverrides()) else { exit(1) }
    exit(MaskCommand.run(config: config, options))
case .run(let file, let overrides):
    guard let config = loadConfig(file, overrides), let credentials = loadCredentials(config),
          let masking = loadMasking(config) else { exit(1) }
    do {
        try await RunCommand.run(config: config, credentials: credentials, masking: masking)
    } catch {
        Stderr.line("postern: \(error)")
        exit(1)
    }
}
