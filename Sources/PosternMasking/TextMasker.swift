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
        let entities = entities(in: text, keyHint: keyHint)
        guard !entities.isEmpty else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var cursor = 0
        var drop = false
        for entity in entities {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: text[cursor..<entity.range.lowerBound]))
            let action = self.action(for: entity)
            if action == .drop { drop = true }
            out += replacement(for: UnsafeBufferPointer(rebasing: text[entity.range]), label: label(for: entity),
                               action: action)
            cursor = entity.range.upperBound
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: text[cursor...]))
        return Masked(bytes: out, kinds: entities.map(\.kind), drop: drop)
    }

    public func mask(_ text: String) -> String {
        var copy = text
        return copy.withUTF8 { bytes in
            mask(bytes).map { String(decoding: $0.bytes, as: UTF8.self) } ?? text
        }
    }
}
