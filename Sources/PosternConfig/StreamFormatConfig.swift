import Yams

/// `masking.NAME.stream_formats[]`: where the texts of a streaming format Postern does not
/// know live in its events (built into a `StreamFormat` by PosternMasking).
///
/// ```yaml
/// - name: acme-stream
///   match: { $.object: acme.chunk }              # every event of the format
///   texts: [{ when: { $.kind: text }, path: $.delta.text, key: [$.index] }]
///   ends:  [{ when: { $.finished: true }, key: [$.index] }]
/// ```
/// A condition's value is one value, a list of them (a trailing `*` matches a prefix), or
/// `~` for any value but null.
public struct StreamFormatSettings: Sendable, Equatable {
    public struct Condition: Sendable, Equatable {
        public var path: [String]
        public var values: [String]

        public init(path: [String], values: [String]) {
            self.path = path
            self.values = values
        }
    }

    public struct Text: Sendable, Equatable {
        public var when: [Condition]
        public var path: [String]
        public var key: [[String]]

        public init(when: [Condition] = [], path: [String] = [], key: [[String]] = []) {
            self.when = when
            self.path = path
            self.key = key
        }
    }

    public struct End: Sendable, Equatable {
        public var when: [Condition]
        public var key: [[String]]

        public init(when: [Condition] = [], key: [[String]] = []) {
            self.when = when
            self.key = key
        }
    }

    public var name: String
    public var match: [Condition]
    public var texts: [Text]
    public var ends: [End]

    public init(name: String, match: [Condition] = [], texts: [Text] = [], ends: [End] = []) {
        self.name = name
        self.match = match
        self.texts = texts
        self.ends = ends
    }

    static func decode(_ node: Node, _ path: String, _ d: ConfigDecoder) -> StreamFormatSettings? {
        guard let entries = d.mapping(node, path, allowed: ["name", "match", "texts", "ends"]) else { return nil }
        var format = StreamFormatSettings(name: "")
        for (field, value) in entries {
            let at = "\(path).\(field)"
            switch field {
            case "name": format.name = d.string(value, at) ?? ""
            case "match": format.match = conditions(value, at, d)
            case "texts":
                for (index, item) in (d.sequence(value, at) ?? []).enumerated() {
                    let itemPath = "\(at)[\(index)]"
                    guard let parts = d.mapping(item, itemPath, allowed: ["when", "path", "key"]) else { continue }
                    var text = Text()
                    for (name, v) in parts {
                        switch name {
                        case "when": text.when = conditions(v, "\(itemPath).when", d)
                        case "path": text.path = keyPath(v, "\(itemPath).path", d) ?? []
                        default: text.key = keyPaths(v, "\(itemPath).key", d)
                        }
                    }
                    if text.path.isEmpty { d.report(itemPath, item, "a streamed text needs a path like $.delta.text") }
                    format.texts.append(text)
                }
            default:
                for (index, item) in (d.sequence(value, at) ?? []).enumerated() {
                    let itemPath = "\(at)[\(index)]"
                    guard let parts = d.mapping(item, itemPath, allowed: ["when", "key"]) else { continue }
                    var end = End()
                    for (name, v) in parts {
                        if name == "when" { end.when = conditions(v, "\(itemPath).when", d) } else {
                            end.key = keyPaths(v, "\(itemPath).key", d)
                        }
                    }
                    if end.when.isEmpty { d.report(itemPath, item, "an end needs a when: the events that end a text") }
                    format.ends.append(end)
                }
            }
        }
        if format.name.isEmpty { d.report(path, node, "a stream format needs a name") }
        if format.match.isEmpty { d.report(path, node, "a stream format needs match: the fields every one of its events has") }
        if format.texts.isEmpty { d.report(path, node, "a stream format needs texts: where its streamed text is") }
        return format
    }

    /// `{ $.a.b: value | [values] | ~ }`.
    private static func conditions(_ node: Node, _ path: String, _ d: ConfigDecoder) -> [Condition] {
        var out: [Condition] = []
        for (name, value) in d.mapping(node, path, allowed: nil) ?? [] {
            guard let fieldPath = parse(name) else {
                d.report("\(path).\(name)", value, "expected a path of member names like $.delta.type")
                continue
            }
            var values: [String] = []
            if case .sequence = value {
                values = (d.sequence(value, "\(path).\(name)") ?? []).compactMap { d.string($0, "\(path).\(name)") }
            } else if let one = d.string(value, "\(path).\(name)"), !["~", "null", ""].contains(one) {
                values = [one]
            }
            out.append(Condition(path: fieldPath, values: values))
        }
        return out
    }

    private static func keyPaths(_ node: Node, _ path: String, _ d: ConfigDecoder) -> [[String]] {
        (d.sequence(node, path) ?? []).enumerated().compactMap { index, item in keyPath(item, "\(path)[\(index)]", d) }
    }

    private static func keyPath(_ node: Node, _ path: String, _ d: ConfigDecoder) -> [String]? {
        guard let text = d.string(node, path) else { return nil }
        guard let names = parse(text) else {
            d.report(path, node, "expected a path of member names like $.delta.text, got '\(text)'")
            return nil
        }
        return names
    }

    /// `$.a.b` as `["a", "b"]`; nil for anything else (indexes included).
    static func parse(_ text: String) -> [String]? {
        guard text.hasPrefix("$.") else { return nil }
        let names = text.dropFirst(2).split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard names.allSatisfy({ !$0.isEmpty && !$0.contains("[") && !$0.contains("]") }) else { return nil }
        return names
    }
}
