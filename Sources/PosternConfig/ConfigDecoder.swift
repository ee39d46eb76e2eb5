import Yams

/// Walks a YAML node tree, converting values and collecting every problem it meets.
final class ConfigDecoder {
    let file: String
    private(set) var problems: [ConfigProblem] = []
    /// The line of every key and list item seen, by dotted path, for problems found later.
    private(set) var lines: [String: Int] = [:]

    init(file: String) { self.file = file }

    func report(_ key: String, _ node: Node?, _ message: String) {
        problems.append(ConfigProblem(file: file, key: key, line: node?.mark.map { $0.line }, message: message))
    }

    /// The entries of a mapping, in order; unknown and repeated keys are reported.
    func mapping(_ node: Node, _ key: String, allowed: Set<String>?) -> [(String, Node)]? {
        guard case .mapping(let mapping) = node else {
            report(key, node, "expected a mapping")
            return nil
        }
        var seen: Set<String> = []
        var entries: [(String, Node)] = []
        for (keyNode, value) in mapping {
            guard let name = keyNode.string else {
                report(key, keyNode, "keys must be strings")
                continue
            }
            let path = key.isEmpty ? name : "\(key).\(name)"
            if let mark = keyNode.mark, lines[path] == nil { lines[path] = mark.line }
            if !seen.insert(name).inserted {
                report(path, keyNode, "key appears twice")
            } else if let allowed, !allowed.contains(name) {
                report(path, keyNode, "unknown key (expected one of: \(allowed.sorted().joined(separator: ", ")))")
            } else {
                entries.append((name, value))
            }
        }
        return entries
    }

    func sequence(_ node: Node, _ key: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            report(key, node, "expected a list")
            return nil
        }
        for (index, item) in sequence.enumerated() {
            if let mark = item.mark { lines["\(key)[\(index)]"] = mark.line }
        }
        return Array(sequence)
    }

    func string(_ node: Node, _ key: String) -> String? {
        guard case .scalar(let scalar) = node else {
            report(key, node, "expected a single value")
            return nil
        }
        return scalar.string
    }

    func integer(_ node: Node, _ key: String, range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, key) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            report(key, node, "expected an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
            return nil
        }
        return value
    }

    func boolean(_ node: Node, _ key: String) -> Bool? {
        guard let text = string(node, key) else { return nil }
        switch text {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            report(key, node, "expected true or false, got '\(text)'")
            return nil
        }
    }

    /// One of an enumeration's raw values, or a problem listing them.
    func choice<T: RawRepresentable & CaseIterable>(_ node: Node, _ key: String, _ type: T.Type) -> T?
        where T.RawValue == String {
        guard let text = string(node, key) else { return nil }
        if let value = T(rawValue: text) { return value }
        report(key, node, "expected one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got '\(text)'")
        return nil
    }

    /// Applies a `ConfigValues` parser, reporting its reason on failure.
    func parse<T>(_ node: Node, _ key: String, _ parser: (String) -> Result<T, ConfigValueError>) -> T? {
        guard let text = string(node, key) else { return nil }
        switch parser(text) {
        case .success(let value): return value
        case .failure(let error):
            report(key, node, error.description)
            return nil
        }
    }
}
