import PosternJSON
import PosternPolicy
import Yams

/// YAML key `guards` (top level): the model-parameter guard, a list of
/// `{name, functions (default [inference]), operations, callers, models, pinned: {FIELD:
/// value or [values]}, bounds: {FIELD: {min, max, required}}, forbidden: [FIELD],
/// system_prompt_sha256: [hex], max_body, on_violation: deny|approval}`. Fields are dotted
/// member paths of the JSON body (`temperature`, `parameters.top_p`).
extension PolicySettings {
    mutating func decodeGuards(_ node: Node, _ d: ConfigDecoder) {
        var names: Set<String> = []
        for (index, entry) in (d.sequence(node, "guards") ?? []).enumerated() {
            let key = "guards[\(index)]"
            let allowed: Set = ["name", "functions", "operations", "callers", "models", "pinned", "bounds", "forbidden",
                                "system_prompt_sha256", "max_body", "on_violation"]
            guard let values = d.mapping(entry, key, allowed: allowed).map({ Dictionary($0, uniquingKeysWith: { a, _ in a }) })
            else { continue }
            guard let nameNode = values["name"], let name = d.string(nameNode, "\(key).name") else {
                d.report(key, entry, "a guard needs a name")
                continue
            }
            if !names.insert(name).inserted { d.report("\(key).name", nameNode, "another guard is called '\(name)'") }
            var guardRule = ParameterGuard(name: name)
            if let functions = values["functions"].flatMap({ d.strings($0, "\(key).functions") }) {
                guardRule.functions = Set(functions)
            }
            guardRule.operations = Set(values["operations"].flatMap { d.strings($0, "\(key).operations") } ?? [])
            guardRule.callers = values["callers"].map { d.callerPatterns($0, "\(key).callers") } ?? []
            guardRule.models = values["models"].flatMap { d.strings($0, "\(key).models") } ?? []
            guardRule.forbidden = values["forbidden"].flatMap { d.strings($0, "\(key).forbidden") } ?? []
            for (field, value) in values["pinned"].flatMap({ d.mapping($0, "\(key).pinned", allowed: nil) }) ?? [] {
                let items = if case .sequence(let list) = value { Array(list) } else { [value] }
                let pins = items.enumerated().compactMap { d.jsonScalar($0.element, "\(key).pinned.\(field)[\($0.offset)]") }
                if pins.count == items.count, !pins.isEmpty { guardRule.pinned[field] = pins }
            }
            for (field, value) in values["bounds"].flatMap({ d.mapping($0, "\(key).bounds", allowed: nil) }) ?? [] {
                if let bound = d.bound(value, "\(key).bounds.\(field)") { guardRule.bounds[field] = bound }
            }
            for (position, item) in (values["system_prompt_sha256"].flatMap { d.sequence($0, "\(key).system_prompt_sha256") } ?? [])
                .enumerated() {
                guard let hex = d.string(item, "\(key).system_prompt_sha256[\(position)]") else { continue }
                let digest = hex.lowercased()
                if digest.utf8.count == 64, digest.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) {
                    guardRule.systemPrompts.insert(digest)
                } else {
                    d.report("\(key).system_prompt_sha256[\(position)]", item, "expected a SHA-256 in hex (64 digits, as sha256sum prints)")
                }
            }
            if let size = values["max_body"].flatMap({ d.parse($0, "\(key).max_body", ConfigValues.byteSize) }) {
                guardRule.maxBody = size
            }
            if let action = values["on_violation"].flatMap({ d.choice($0, "\(key).on_violation", ParameterGuard.Action.self) }) {
                guardRule.onViolation = action
            }
            guards.append(guardRule)
        }
    }
}

extension ConfigDecoder {
    /// A plain YAML scalar as the JSON value a body would carry: a number, true/false, or text
    /// (quoted scalars are always text).
    func jsonScalar(_ node: Node, _ key: String) -> JSONValue? {
        guard case .scalar(let scalar) = node else {
            report(key, node, "expected a single value")
            return nil
        }
        guard scalar.style == .plain else { return .string(scalar.string) }
        if scalar.string == "true" || scalar.string == "false" { return .bool(scalar.string == "true") }
        if let number = Double(scalar.string), number.isFinite { return .number(number) }
        return .string(scalar.string)
    }

    /// `{min, max, required}`, at least one bound.
    func bound(_ node: Node, _ key: String) -> ParameterGuard.Bound? {
        guard let entries = mapping(node, key, allowed: ["min", "max", "required"]) else { return nil }
        var bound = ParameterGuard.Bound()
        for (field, value) in entries {
            if field == "required" {
                bound.required = boolean(value, "\(key).required") ?? false
            } else if let text = string(value, "\(key).\(field)") {
                guard let number = Double(text), number.isFinite else {
                    report("\(key).\(field)", value, "expected a number, got '\(text)'")
                    continue
                }
                if field == "min" { bound.min = number } else { bound.max = number }
            }
        }
        if bound.min == nil, bound.max == nil {
            report(key, node, "a bound needs min or max")
            return nil
        }
        if let min = bound.min, let max = bound.max, min > max { report(key, node, "min is above max") }
        return bound
    }
}
