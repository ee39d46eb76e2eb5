import Yams

/// `masking.NAME`: one masking policy, as written in the file (built into a
/// `MaskingPolicy` by PosternMasking). The policy called `default` applies to every route
/// that does not name another one (or `none`).
public struct MaskingSettings: Sendable, Equatable {
    public var name: String
    /// Detector names, or every built-in one when nil.
    public var detectors: [String]?
    /// `redact`, `partial`, `hash` or `drop`.
    public var action = "redact"
    /// Per detector: an action name.
    public var actions: [String: String] = [:]
    /// For `partial`: how many trailing letters and digits stay.
    public var keepLast = 4
    /// `{key: [names] | path: "$.a[*].b", action}` rules masking whole fields.
    public var fields: [(keys: [String], path: String?, action: String)] = []
    /// The HMAC key for `hash`, from a file (never inline in the configuration).
    public var hashKeyFile: String?
    /// `deny` (default: 502 / INTERNAL) or `pass` for responses that cannot be parsed.
    public var onUnparseable = "deny"
    /// Operator-defined `{name, regex, action}` patterns.
    public var patterns: [(name: String, regex: String, action: String?)] = []
    /// FileDescriptorSet files (`protoc --include_imports --descriptor_set_out`) for gRPC.
    public var descriptorSets: [String] = []
    /// The largest gRPC message (after decompression) the masker will hold.
    public var maxMessageBytes = 4 << 20
    /// Streaming formats the operator describes, tried before the built-in ones.
    public var streamFormats: [StreamFormatSettings] = []
    /// `per_event` (default) or `refuse`: events of a stream no format describes.
    public var unknownStreams = "per_event"
    /// Outputs of a ModelStreamInfer stream whose BYTES elements are pieces of one text.
    public var streamedTensors = ["text_output"]
    /// ISO 3166 regions whose national phone numbers are found (`["all"]`: every region
    /// Postern knows); nil: the default regions.
    public var phoneRegions: [String]?

    public init(name: String) { self.name = name }

    public static func == (a: MaskingSettings, b: MaskingSettings) -> Bool {
        a.name == b.name && a.detectors == b.detectors && a.action == b.action && a.actions == b.actions
            && a.keepLast == b.keepLast && a.hashKeyFile == b.hashKeyFile && a.onUnparseable == b.onUnparseable
            && a.descriptorSets == b.descriptorSets && a.maxMessageBytes == b.maxMessageBytes
            && a.streamFormats == b.streamFormats && a.unknownStreams == b.unknownStreams && a.phoneRegions == b.phoneRegions
            && a.streamedTensors == b.streamedTensors
            && a.patterns.map { "\($0.name)|\($0.regex)|\($0.action ?? "")" } == b.patterns.map { "\($0.name)|\($0.regex)|\($0.action ?? "")" }
            && a.fields.map { "\($0.keys)|\($0.path ?? "")|\($0.action)" } == b.fields.map { "\($0.keys)|\($0.path ?? "")|\($0.action)" }
    }

    public static let detectorNames = ["credit_card", "us_ssn", "email", "phone", "iban", "ip_address", "aws_key",
                                       "github_token", "slack_token", "jwt", "private_key"]
    public static let actionNames = ["redact", "partial", "hash", "drop"]

    static func decode(_ name: String, _ node: Node, _ d: ConfigDecoder, base: String) -> MaskingSettings? {
        let key = "masking.\(name)"
        let allowed: Set = ["detectors", "action", "actions", "keep_last", "fields", "hash_key_file", "on_unparseable",
                            "patterns", "descriptor_sets", "max_message_bytes", "stream_formats", "unknown_streams",
                            "phone_regions", "streamed_tensors"]
        guard let entries = d.mapping(node, key, allowed: allowed) else { return nil }
        var policy = MaskingSettings(name: name)
        func action(_ value: Node, _ path: String) -> String? {
            guard let text = d.string(value, path) else { return nil }
            guard actionNames.contains(text) else {
                d.report(path, value, "expected one of \(actionNames.joined(separator: ", ")), got '\(text)'")
                return nil
            }
            return text
        }
        for (field, value) in entries {
            let path = "\(key).\(field)"
            switch field {
            case "detectors":
                if case .scalar(let scalar) = value {
                    if scalar.string != "all" { d.report(path, value, "expected all or a list of detectors") }
                    continue
                }
                var names: [String] = []
                for (index, item) in (d.sequence(value, path) ?? []).enumerated() {
                    guard let text = d.string(item, "\(path)[\(index)]") else { continue }
                    if detectorNames.contains(text) { names.append(text) } else {
                        d.report("\(path)[\(index)]", item, "unknown detector (expected one of: \(detectorNames.joined(separator: ", ")))")
                    }
                }
                policy.detectors = names
            case "action":
                if let a = action(value, path) { policy.action = a }
            case "actions":
                for (detector, v) in d.mapping(value, path, allowed: Set(detectorNames)) ?? [] {
                    if let a = action(v, "\(path).\(detector)") { policy.actions[detector] = a }
                }
            case "keep_last":
                if let n = d.integer(value, path, range: 0...64) { policy.keepLast = n }
            case "descriptor_sets":
                for (index, item) in (d.sequence(value, path) ?? []).enumerated() {
                    if let file = d.file(item, "\(path)[\(index)]", base: base) { policy.descriptorSets.append(file) }
                }
            case "max_message_bytes":
                if let n = d.integer(value, path, range: 1024...(256 << 20)) { policy.maxMessageBytes = n }
            case "stream_formats":
                for (index, item) in (d.sequence(value, path) ?? []).enumerated() {
                    if let format = StreamFormatSettings.decode(item, "\(path)[\(index)]", d) { policy.streamFormats.append(format) }
                }
            case "streamed_tensors":
                policy.streamedTensors = (d.sequence(value, path) ?? []).enumerated().compactMap { index, item in
                    d.string(item, "\(path)[\(index)]")
                }
            case "phone_regions":
                if case .scalar(let scalar) = value {
                    if scalar.string == "all" { policy.phoneRegions = ["all"] } else {
                        d.report(path, value, "expected all or a list of regions (ISO 3166 codes)")
                    }
                    continue
                }
                policy.phoneRegions = (d.sequence(value, path) ?? []).enumerated().compactMap { index, item in
                    d.string(item, "\(path)[\(index)]")
                }
            case "unknown_streams":
                guard let text = d.string(value, path) else { continue }
                if text == "per_event" || text == "refuse" { policy.unknownStreams = text } else {
                    d.report(path, value, "expected per_event or refuse, got '\(text)'")
                }
            case "hash_key_file":
                policy.hashKeyFile = d.file(value, path, base: base)
            case "on_unparseable":
                guard let text = d.string(value, path) else { continue }
                if text == "deny" || text == "pass" { policy.onUnparseable = text } else {
                    d.report(path, value, "expected deny or pass, got '\(text)'")
                }
            case "patterns":
                for (index, item) in (d.sequence(value, path) ?? []).enumerated() {
                    let itemPath = "\(path)[\(index)]"
                    guard let entries = d.mapping(item, itemPath, allowed: ["name", "regex", "action"]) else { continue }
                    var values: [String: String] = [:]
                    for (name, v) in entries {
                        if name == "action" {
                            if let a = action(v, "\(itemPath).action") { values[name] = a }
                        } else if let text = d.string(v, "\(itemPath).\(name)") {
                            values[name] = text
                        }
                    }
                    guard let patternName = values["name"], !patternName.isEmpty,
                          patternName.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
                          let regex = values["regex"], !regex.isEmpty else {
                        d.report(itemPath, item, "a pattern needs a name (letters, digits, _) and a regex")
                        continue
                    }
                    policy.patterns.append((patternName, regex, values["action"]))
                }
            case "fields":
                for (index, item) in (d.sequence(value, path) ?? []).enumerated() {
                    let itemPath = "\(path)[\(index)]"
                    guard let rule = d.mapping(item, itemPath, allowed: ["key", "path", "action"]) else { continue }
                    var keys: [String] = []
                    var jsonPath: String?
                    var ruleAction = policy.action
                    for (name, v) in rule {
                        switch name {
                        case "key":
                            if case .sequence(let list) = v {
                                keys = list.compactMap { d.string($0, "\(itemPath).key") }
                            } else if let one = d.string(v, "\(itemPath).key") {
                                keys = [one]
                            }
                        case "path": jsonPath = d.string(v, "\(itemPath).path")
                        default: if let a = action(v, "\(itemPath).action") { ruleAction = a }
                        }
                    }
                    if keys.isEmpty == (jsonPath == nil) {
                        d.report(itemPath, item, "a field rule has either key or path")
                        continue
                    }
                    if let jsonPath, !isPath(jsonPath) {
                        d.report("\(itemPath).path", item, "expected a path like $.choices[*].message.content")
                        continue
                    }
                    policy.fields.append((keys, jsonPath, ruleAction))
                }
            default:
                break
            }
        }
        if policy.hashKeyFile == nil, policy.action == "hash" || policy.actions.values.contains("hash")
            || policy.fields.contains(where: { $0.action == "hash" }) {
            d.report(key, node, "the hash action needs hash_key_file (a secret key, at least 16 bytes)")
        }
        return policy
    }

    /// `$`, then `.name`, `[*]` or `[N]` steps.
    static func isPath(_ text: String) -> Bool {
        guard text.hasPrefix("$"), text.count > 1 else { return false }
        var rest = Substring(text.dropFirst())
        while !rest.isEmpty {
            if rest.hasPrefix(".") {
                let name = rest.dropFirst().prefix { $0 != "." && $0 != "[" }
                guard !name.isEmpty else { return false }
                rest = rest.dropFirst(1 + name.count)
            } else if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                let inside = rest[rest.index(after: rest.startIndex)..<close]
                guard inside == "*" || Int(inside) != nil else { return false }
                rest = rest[rest.index(after: close)...]
            } else {
                return false
            }
        }
        return true
    }
}
