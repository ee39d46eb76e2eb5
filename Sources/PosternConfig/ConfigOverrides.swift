/// Command-line values that take precedence over the configuration file.
public struct ConfigOverrides: Sendable, Equatable {
    public var listen: HostPort?
    public var admin: HostPort?
    /// `--upstream [NAME=]URL`, in the order given; an unnamed one is called `default`.
    public var upstreams: [(name: String, url: String)] = []

    public init() {}

    public static func == (a: ConfigOverrides, b: ConfigOverrides) -> Bool {
        a.listen == b.listen && a.admin == b.admin
            && a.upstreams.map { "\($0.name)=\($0.url)" } == b.upstreams.map { "\($0.name)=\($0.url)" }
    }

    /// Splits `[NAME=]URL`.
    public static func upstreamArgument(_ text: String) -> (name: String, url: String) {
        if let equals = text.firstIndex(of: "="), !text[..<equals].contains(":") {
            return (String(text[..<equals]), String(text[text.index(after: equals)...]))
        }
        return ("default", text)
    }
}

extension PosternConfig {
    /// Applies overrides; an upstream given on the command line replaces the file's upstream
    /// of the same name, or is added.
    public func applying(_ overrides: ConfigOverrides) -> Result<PosternConfig, ConfigProblems> {
        var config = self
        var problems: [ConfigProblem] = []
        if let listen = overrides.listen { config.listen = listen }
        if let admin = overrides.admin { config.admin = admin }
        for (name, url) in overrides.upstreams {
            switch ConfigValues.upstreamURL(url) {
            case .success(let (kind, address)):
                var upstream = config.upstream(named: name) ?? Upstream(name: name, wireProtocol: kind, address: address)
                upstream.wireProtocol = kind
                upstream.address = address
                config.upstreams.removeAll { $0.name == name }
                config.upstreams.append(upstream)
            case .failure(let error):
                problems.append(ConfigProblem(file: "command line", key: "--upstream \(name)", message: error.description))
            }
        }
        return problems.isEmpty ? .success(config) : .failure(ConfigProblems(problems: problems))
    }
}
