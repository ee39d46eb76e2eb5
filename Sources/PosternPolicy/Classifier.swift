/// Classify: method and normalised path (or gRPC `/package.Service/Method`) to an
/// `Operation`, from the operator's own rules first, then the enabled profiles' tables, in
/// order; the first line that matches decides. A request that matches none is not an
/// operation Postern knows, and is denied.
///
/// Lines are bucketed by their first path segment, so a request is compared with the few
/// lines that could match it rather than with every table.
public struct Classifier: Sendable {
    private typealias Entry = (precedence: Int, rule: OperationRule)
    private var byFirstSegment: [Substring: [Entry]] = [:]
    /// Lines whose first segment is a capture or wildcard (or the root).
    private var unbucketed: [Entry] = []
    /// Every line, in precedence order.
    public let rules: [OperationRule]

    public init(rules: [OperationRule]) {
        self.rules = rules
        for (precedence, rule) in rules.enumerated() {
            if case .literal(let first)? = rule.path.segments.first {
                byFirstSegment[first[...], default: []].append((precedence, rule))
            } else {
                unbucketed.append((precedence, rule))
            }
        }
    }

    /// The operator's rules first, then each profile's table in the order given; nil names
    /// a profile that does not exist.
    public static func build(profiles: [String], custom: [OperationRule]) -> Result<Classifier, UnknownProfile> {
        var rules = custom
        for profile in profiles {
            guard let table = BuiltInProfiles.rules(profile) else { return .failure(UnknownProfile(name: profile)) }
            rules += table
        }
        return .success(Classifier(rules: rules))
    }

    public func classify(method: String, path: Substring) -> Operation? {
        let bytes = path.utf8
        let from = bytes.firstIndex { $0 != UInt8(ascii: "/") } ?? bytes.endIndex
        let to = bytes[from...].firstIndex(of: UInt8(ascii: "/")) ?? bytes.endIndex
        let segment = Substring(bytes[from..<to])
        // Table keys are lower case; most paths already are, and then nothing is allocated.
        let hasUpper = segment.utf8.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
        let candidates = (hasUpper ? byFirstSegment[segment.lowercased()[...]] : byFirstSegment[segment]) ?? []
        // Both lists keep precedence order; a bucketed line and an unbucketed one can both
        // match, so take whichever comes first in `rules`.
        var best: (rule: OperationRule, model: Substring?, version: Substring?)?
        var bestPrecedence = Int.max
        for list in [candidates, unbucketed] {
            for (precedence, rule) in list where precedence < bestPrecedence
                && (rule.methods.isEmpty || rule.methods.contains(method)) {
                guard let captures = rule.path.match(path) else { continue }
                best = (rule, captures.model, captures.version)
                bestPrecedence = precedence
                break
            }
        }
        guard let best else { return nil }
        return Operation(function: best.rule.function, name: best.rule.name, model: best.model.map(String.init),
                         version: best.version.map(String.init), risk: best.rule.risk, profile: best.rule.profile,
                         modelField: best.model == nil ? best.rule.modelField : nil,
                         messageModel: best.rule.messageModel)
    }
}

public struct UnknownProfile: Error, Sendable, CustomStringConvertible {
    public var name: String
    public init(name: String) { self.name = name }
    public var description: String {
        "no profile called '\(name)' (known: \(BuiltInProfiles.names.joined(separator: ", ")))"
    }
}
