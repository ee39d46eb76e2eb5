import PosternCrypto

/// What to do with a detected value.
public enum MaskAction: Sendable, Equatable {
    /// A label such as `[EMAIL]`.
    case redact
    /// Keep the last `keep` letters and digits, star the others, keep the punctuation.
    case partial(keep: Int)
    /// `[EMAIL:1f2e3d4c5b6a7980]`: HMAC-SHA256 of the normalised value under the policy's
    /// key, so the same value always gets the same pseudonym and logs stay joinable.
    case hash
    /// Remove the JSON member (a null in an array); in plain text, as `redact`.
    case drop
}

/// A JSON member masked whole, by its key anywhere or by its path.
public struct FieldRule: Sendable, Equatable {
    public enum Selector: Sendable, Equatable {
        /// A member name anywhere in the document (compared case-insensitively).
        case key(String)
        /// `$.a.b[*].c`: names and `[*]` (any index) or `[3]` from the root.
        case path([PathStep])
    }

    public enum PathStep: Sendable, Equatable {
        case key(String)
        case index(Int)
        case anyIndex
    }

    public var selector: Selector
    public var action: MaskAction

    /// Key names are kept lower case: matching ignores case.
    public init(_ selector: Selector, action: MaskAction) {
        if case .key(let name) = selector {
            self.selector = .key(name.lowercased())
        } else {
            self.selector = selector
        }
        self.action = action
    }

    /// Parses `$.choices[*].message.content`; nil if it is not such a path.
    public static func parsePath(_ text: String) -> [PathStep]? {
        guard text.hasPrefix("$") else { return nil }
        var steps: [PathStep] = []
        var rest = Substring(text.dropFirst())
        while !rest.isEmpty {
            if rest.hasPrefix(".") {
                rest = rest.dropFirst()
                let name = rest.prefix { $0 != "." && $0 != "[" }
                guard !name.isEmpty else { return nil }
                steps.append(.key(String(name)))
                rest = rest.dropFirst(name.count)
            } else if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { return nil }
                let inside = rest[rest.index(after: rest.startIndex)..<close]
                if inside == "*" {
                    steps.append(.anyIndex)
                } else if let index = Int(inside), index >= 0 {
                    steps.append(.index(index))
                } else {
                    return nil
                }
                rest = rest[rest.index(after: close)...]
            } else {
                return nil
            }
        }
        return steps
    }
}

/// A named masking policy: which detectors run, what each does, which fields are masked
/// whole, and whether an unparseable response may pass (it may not, by default).
public struct MaskingPolicy: Sendable {
    public var name: String
    public var scanner: EntityScanner
    public var action: MaskAction
    public var actions: [EntityKind: MaskAction]
    public var fields: [FieldRule]
    public var hashKey: [UInt8]
    /// An explicit, per-policy choice to pass responses that cannot be parsed.
    public var passUnparseable: Bool
    public var patterns: [CustomPattern]
    /// The protobuf types gRPC responses are masked by; none means gRPC cannot be masked.
    public var protoSchema: ProtoSchema?
    /// The largest gRPC message (decompressed) the masker holds.
    public var maxMessageBytes = 4 << 20
    /// Where streamed texts live in the event streams Postern reads (the operator's
    /// formats first, then the built-in ones).
    public var streamFormats = StreamFormat.builtIn
    /// What to do with events of a stream no format describes.
    public var unknownStreams = UnknownStreamAction.perEvent
    /// Outputs of a KServe v2 / Triton `ModelStreamInfer` stream whose BYTES elements are
    /// pieces of one text across its messages (Triton's TensorRT-LLM and vLLM backends
    /// stream their tokens as `text_output`).
    public var streamedTensors: Set<String> = ["text_output"]

    public init(name: String = "default", kinds: Set<EntityKind> = Set(EntityKind.builtIn), action: MaskAction = .redact,
                actions: [EntityKind: MaskAction] = [:], fields: [FieldRule] = [], hashKey: [UInt8] = [],
                passUnparseable: Bool = false, patterns: [CustomPattern] = []) {
        self.name = name
        self.scanner = EntityScanner(kinds: kinds)
        self.action = action
        self.actions = actions
        self.fields = fields
        self.hashKey = hashKey
        self.passUnparseable = passUnparseable
        self.patterns = patterns
    }

    /// Some action drops values (and JSON members with them).
    var mayDrop: Bool {
        action == .drop || actions.values.contains(.drop) || fields.contains { $0.action == .drop }
            || patterns.contains { $0.action == .drop }
    }

    func action(for entity: Entity) -> MaskAction {
        if entity.kind == .custom, let pattern = patterns.first(where: { $0.name == entity.name }) {
            return pattern.action ?? action
        }
        return actions.isEmpty ? action : actions[entity.kind] ?? action
    }

    func label(for entity: Entity) -> String {
        entity.kind == .custom ? (entity.name ?? "REDACTED").uppercased() : entity.kind.label
    }

    /// Built-in detectors, then operator patterns where they do not overlap what was found.
    public func entities(in text: UnsafeBufferPointer<UInt8>, keyHint: String? = nil) -> [Entity] {
        Byte.withUTF8(of: keyHint) { entities(in: text, key: $0) }
    }

    /// `entities(in:keyHint:)` with the member name as UTF-8 bytes.
    func entities(in text: UnsafeBufferPointer<UInt8>, key: UnsafeBufferPointer<UInt8>?) -> [Entity] {
        var found = scanner.scan(text, key: key)
        guard !patterns.isEmpty else { return found }
        for pattern in patterns {
            for range in pattern.matches(in: text)
            where !found.contains(where: { $0.range.overlaps(range) }) {
                found.append(Entity(range, .custom, name: pattern.name))
            }
        }
        return found.sorted { $0.range.lowerBound < $1.range.lowerBound }
    }

    /// `replacement(for:label:action:)` for `entity`, written to the end of `out`.
    func appendReplacement(for value: UnsafeBufferPointer<UInt8>, _ entity: Entity, action: MaskAction,
                           to out: inout [UInt8]) {
        if action == .redact || action == .drop, entity.kind != .custom {
            entity.kind.redaction.withUTF8Buffer { out.append(contentsOf: $0) }  // the common case, made once
        } else {
            out += replacement(for: value, label: label(for: entity), action: action)
        }
    }

    /// The replacement text for `value` (the detected bytes) under `action`.
    func replacement(for value: UnsafeBufferPointer<UInt8>, label: String, action: MaskAction) -> [UInt8] {
        switch action {
        case .redact, .drop:
            return Array("[\(label)]".utf8)
        case .partial(let keep):
            var out = Array(value)
            var kept = 0
            for index in out.indices.reversed() where Byte.isAlnum(out[index]) {
                if kept < keep {
                    kept += 1
                } else {
                    out[index] = UInt8(ascii: "*")
                }
            }
            return out
        case .hash:
            // Normalised so `4111 1111…` and `4111-1111…`, or `Ann@X.com` and `ann@x.com`, agree.
            let normalised = value.filter { Byte.isAlnum($0) || $0 > 0x7F || $0 == 0x40 || $0 == 0x2E }
                .map { Byte.isUpper($0) ? $0 | 0x20 : $0 }
            let mac = normalised.withUnsafeBufferPointer { HMACSHA256.mac(key: hashKey, message: $0) }
            let hex = mac.prefix(8).map { byte -> String in
                let s = String(byte, radix: 16)
                return s.count == 1 ? "0" + s : s
            }.joined()
            return Array("[\(label):\(hex)]".utf8)
        }
    }
}
