/// One thing wrong with a configuration: where (file, key, line) and why.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// Dotted key path, e.g. `upstreams.triton.url` or `routes[2].prefix`.
    public var key: String
    public var line: Int?
    public var message: String

    public init(file: String, key: String, line: Int? = nil, message: String) {
        self.file = file
        self.key = key
        self.line = line
        self.message = message
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return key.isEmpty ? "\(location): \(message)" : "\(location): \(key): \(message)"
    }
}

/// Every problem found, so an operator fixes them all in one go.
public struct ConfigProblems: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
