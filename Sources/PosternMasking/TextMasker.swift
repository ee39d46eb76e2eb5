/// Masks the entities in one piece of decoded text. Returns nil when nothing was found,
/// so callers can pass the original bytes (and their original escaping) through untouched.
extension MaskingPolicy {
    public struct Masked {
        public var bytes: [UInt8]
        public var kinds: [EntityKind]
        /// A `drop` action fired: the enclosing JSON member should go.
        public var drop: Bool
    }

    public func mask(_ text: UnsafeBufferPointer<UInt8>, keyHint: String? = nil) -> Masked? {
        Byte.withUTF8(of: keyHint) { mask(text, key: $0) }
    }

    /// `mask(_:keyHint:)` with the member name as UTF-8 bytes.
    func mask(_ text: UnsafeBufferPointer<UInt8>, key: UnsafeBufferPointer<UInt8>?) -> Masked? {
        let entities = entities(in: text, key: key)
        guard !entities.isEmpty else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var cursor = 0
        var drop = false
        for entity in entities {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: text[cursor..<entity.range.lowerBound]))
            let action = self.action(for: entity)
            if action == .drop { drop = true }
            appendReplacement(for: UnsafeBufferPointer(rebasing: text[entity.range]), entity, action: action, to: &out)
            cursor = entity.range.upperBound
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: text[cursor...]))
        return Masked(bytes: out, kinds: entities.map(\.kind), drop: drop)
    }

    public enum MaskedString {
        case text([UInt8])
        /// The string held a JSON document; this is that document, masked.
        case json([UInt8])
        case drop
    }

    /// A string value: a JSON document inside it (tool-call arguments) is masked as JSON,
    /// so its structure and escapes are honoured; anything else by the detectors. nil when
    /// nothing was found. `nestedDepth` 0 turns the JSON reading off.
    func maskString(_ text: UnsafeBufferPointer<UInt8>, key: UnsafeBufferPointer<UInt8>?, nestedDepth: Int, maxStringBytes: Int,
                    findings: inout [EntityKind: Int]) -> MaskedString? {
        if nestedDepth > 0, let first = text.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x09 && $0 != 0x0D }),
           first == 0x7B || first == 0x5B {
            var nested = JSONMachine(policy: self, maxStringBytes: maxStringBytes, maxDepth: nestedDepth)
            if let masked = try? nested.feed(text) + nested.finish() {
                guard !nested.findings.isEmpty else { return nil }
                for (kind, n) in nested.findings { findings[kind, default: 0] += n }
                return .json(masked)
            }
        }
        guard let masked = mask(text, key: key) else { return nil }
        for kind in masked.kinds { findings[kind, default: 0] += 1 }
        return masked.drop ? .drop : .text(masked.bytes)
    }

    public func mask(_ text: String) -> String {
        var copy = text
        return copy.withUTF8 { bytes in
            mask(bytes).map { String(decoding: $0.bytes, as: UTF8.self) } ?? text
        }
    }
}
