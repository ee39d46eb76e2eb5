/// Classify: method and normalised path (or gRPC `/package.Service/Method`) to an
/// `Operation`, from the operator's own rules first, then the enabled profiles' tables, in
/// order; the first line that matches decides. A request that matches none is not an
/// operation Postern knows, and is denied.
///
/// Lines are bucketed by their first path segment, so a request is compared with the few
/// lines that could match it rather than with every table.
public struct Classifier: Sendable {
    /// A line and its methods as a short list (compared, not hashed); a class, so that
    /// looking lines up copies a reference, not the line.
    private final class Entry: Sendable {
        let precedence: Int
        let rule: OperationRule
        let methods: [String]
        init(_ precedence: Int, _ rule: OperationRule) {
            self.precedence = precedence
            self.rule = rule
            self.methods = rule.methods.sorted()
        }
    }
    /// Keyed by the lower-case first segment.
    private var byFirstSegment = ByteKeyTable<Entry>()
    /// Lines whose first segment is a capture or wildcard (or the root).
    private var unbucketed: [Entry] = []
    /// Every line, in precedence order.
    public let rules: [OperationRule]

    public init(rules: [OperationRule]) {
        self.rules = rules
        for (precedence, rule) in rules.enumerated() {
            let entry = Entry(precedence, rule)
            if case .literal(let first)? = rule.path.segments.first {
                byFirstSegment.add(first, entry)
            } else {
                unbucketed.append(entry)
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
        var path = path
        return path.withUTF8 { bytes in
            var from = 0
            while from < bytes.count, bytes[from] == UInt8(ascii: "/") { from += 1 }
            // The first segment, lower-cased as it is hashed (table keys are lower case).
            var lowered: [UInt8] = []
            var hash = ByteKeyTable<Entry>.seed
            var to = from
            while to < bytes.count, bytes[to] != UInt8(ascii: "/") {
                let byte = PathPattern.lower(bytes[to])
                if byte != bytes[to], lowered.isEmpty { lowered = Array(bytes[from..<to]) }
                if !lowered.isEmpty || byte != bytes[to] { lowered.append(byte) }
                hash = ByteKeyTable<Entry>.extend(hash, byte)
                to += 1
            }
            // Both lists keep precedence order; a bucketed line and an unbucketed one can both
            // match, so take whichever comes first in `rules`.
            var best: (entry: Entry, model: Range<Int>?, version: Range<Int>?)?
            var bestPrecedence = Int.max
            func consider(_ entry: Entry) {
                guard entry.precedence < bestPrecedence,
                      entry.methods.isEmpty || entry.methods.contains(method),
                      let captures = entry.rule.path.match(bytes) else { return }
                best = (entry, captures.model, captures.version)
                bestPrecedence = entry.precedence
            }
            if lowered.isEmpty {
                byFirstSegment.forEach(hash, UnsafeBufferPointer(rebasing: bytes[from..<to]), consider)
            } else {
                lowered.withUnsafeBufferPointer { byFirstSegment.forEach(hash, $0, consider) }
            }
            for entry in unbucketed where entry.precedence < bestPrecedence { consider(entry) }
            guard let best else { return nil }
            func text(_ range: Range<Int>?) -> String? {
                range.map { String(decoding: UnsafeBufferPointer(rebasing: bytes[$0]), as: UTF8.self) }
            }
            let model = text(best.model), rule = best.entry.rule
            return Operation(function: rule.function, name: rule.name, model: model, version: text(best.version),
                             risk: rule.risk, profile: rule.profile, modelField: model == nil ? rule.modelField : nil,
                             messageModel: rule.messageModel)
        }
    }
}

public struct UnknownProfile: Error, Sendable, CustomStringConvertible {
    public var name: String
    public init(name: String) { self.name = name }
    public var description: String {
        "no profile called '\(name)' (known: \(BuiltInProfiles.names.joined(separator: ", ")))"
    }
}
