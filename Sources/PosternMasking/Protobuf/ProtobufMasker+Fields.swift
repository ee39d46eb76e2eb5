extension ProtobufMasker {
    /// A field the schema knows: masks, rewrites, drops or keeps its value. `ruleName` is
    /// what field rules match (the map key, for a map's value); `rawDatatype` is set for a
    /// KServe raw tensor field, holding its tensor's datatype (nil inside when unknown).
    mutating func known(_ field: ProtoSchema.Field, wire: Int, _ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int,
                        end: Int, depth: Int, ruleName: String?, hint: String,
                        rawDatatype: String??) throws(MaskingError) -> Outcome {
        let rule = policy.fields.isEmpty ? nil : ruleName.flatMap(fieldRule)
        let whole = field.debugRedact || rule != nil
        let action = rule?.action ?? policy.action
        switch field.kind {
        case .group(let type):
            let start = i
            if whole {
                try ProtoWire.skip(buf, &i, end: end, wireType: wire, number: field.number, depth: depth)
                findings[.custom, default: 0] += 1
                return .drop
            }
            let (output, contentEnd) = try walk(buf, start..<end, type: type, depth: depth + 1, group: field.number)
            i = contentEnd
            _ = try ProtoWire.readTag(buf, &i, end: end)
            return output.map { .group($0, endTag: contentEnd..<i) } ?? .keep
        case .scalar, .integer64:
            var number: UInt64?
            if field.kind == .integer64, wire == ProtoWire.varint {
                number = try ProtoWire.readVarint(buf, &i, end: end)
            } else {
                try ProtoWire.skip(buf, &i, end: end, wireType: wire, number: field.number, depth: depth)
            }
            if whole {
                findings[.custom, default: 0] += 1
                return .drop
            }
            if let number, isCardNumber(number) {
                findings[.creditCard, default: 0] += 1
                return .drop
            }
            return .keep
        case .string, .bytes, .message:
            let length = try ProtoWire.readVarint(buf, &i, end: end)
            guard length <= UInt64(end - i) else { throw ProtoWire.truncated("\(field.name) runs past the end") }
            let valueRange = i..<(i + Int(length))
            i = valueRange.upperBound
            let value = UnsafeBufferPointer(rebasing: buf[valueRange])
            if whole {
                findings[.custom, default: 0] += 1
                if case .message = field.kind { return .drop }
                if action == .drop { return .drop }
                return .payload(policy.replacement(for: value, label: hint.uppercased(), action: action))
            }
            switch field.kind {
            case .message(let type):
                return try walk(buf, valueRange, type: type, depth: depth + 1, group: nil).output.map(Outcome.payload) ?? .keep
            case .string:
                guard Byte.isValidUTF8(value) else { throw MaskingError("string field \(field.name) is not valid UTF-8") }
                let masked = Byte.withUTF8(of: hint) {
                    policy.maskString(value, key: $0, nestedDepth: 32, maxStringBytes: value.count, findings: &findings)
                }
                switch masked {
                case nil: return .keep
                case .text(let bytes)?, .json(let bytes)?: return .payload(bytes)
                case .drop?: return .drop
                }
            default:
                if let rawDatatype { return try rawTensor(value, datatype: rawDatatype) }
                // Bytes that are text (a BYTES tensor element, say) are scanned as text; an
                // element is relabelled, never removed, so a tensor keeps its shape.
                return maskBytes(value, hint: hint).map(Outcome.payload) ?? .keep
            }
        }
    }

    /// A field the schema does not know (or a value of the wrong wire type): its bytes are
    /// scanned as they are, and the field goes if anything sensitive is in them.
    mutating func unknown(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int, end: Int, wire: Int, number: Int,
                          depth: Int) throws(MaskingError) -> Outcome {
        var start = i
        let contentEnd = try ProtoWire.skip(buf, &i, end: end, wireType: wire, number: number, depth: depth)
        switch wire {
        case ProtoWire.lengthDelimited:
            _ = try ProtoWire.readVarint(buf, &start, end: end)
            return scanOpaque(UnsafeBufferPointer(rebasing: buf[start..<i]))
        case ProtoWire.startGroup:
            return scanOpaque(UnsafeBufferPointer(rebasing: buf[start..<contentEnd]))
        default:
            return .keep
        }
    }

    private mutating func scanOpaque(_ bytes: UnsafeBufferPointer<UInt8>) -> Outcome {
        let found = policy.entities(in: bytes)
        guard !found.isEmpty else { return .keep }
        for entity in found { findings[entity.kind, default: 0] += 1 }
        return .drop
    }

    /// Text in a bytes field, masked; nil if it is not UTF-8 or holds nothing sensitive.
    mutating func maskBytes(_ value: UnsafeBufferPointer<UInt8>, hint: String?) -> [UInt8]? {
        guard Byte.isValidUTF8(value), let masked = policy.mask(value, keyHint: hint) else { return nil }
        for kind in masked.kinds { findings[kind, default: 0] += 1 }
        return masked.bytes
    }

    /// A 64-bit integer that is a payment card number when written in decimal.
    func isCardNumber(_ value: UInt64) -> Bool {
        guard value >= 1_000_000_000_000, value < 10_000_000_000_000_000_000 else { return false }
        var digits = Array(String(value).utf8)
        return digits.withUnsafeMutableBufferPointer { buffer in
            policy.scanner.scan(UnsafeBufferPointer(buffer)).contains { $0.kind == .creditCard && $0.range.count == buffer.count }
        }
    }

    /// The rule covering the field about to be masked: by its name anywhere, or by path.
    func fieldRule(_ lowerName: String) -> FieldRule? {
        for rule in policy.fields {
            switch rule.selector {
            case .key(let name):
                if name == lowerName { return rule }
            case .path(let steps):
                if matches(steps) { return rule }
            }
        }
        return nil
    }

    private func matches(_ steps: [FieldRule.PathStep]) -> Bool {
        guard steps.count == path.count else { return false }
        for (step, at) in zip(steps, path) {
            switch (step, at) {
            case (.key(let a), .key(let b)): if a != b { return false }
            case (.anyIndex, .index): continue
            case (.index(let a), .index(let b)): if a != b { return false }
            default: return false
            }
        }
        return true
    }

    /// A map entry's key (field 1), as text; nil if the entry has none.
    static func mapKey(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws(MaskingError) -> String? {
        var key: String?
        try ProtoWire.forEachField(buf, range) { (number, wire, value) throws(MaskingError) in
            guard number == 1 else { return }
            if wire == ProtoWire.lengthDelimited {
                key = ProtoWire.text(buf, value)
            } else if wire == ProtoWire.varint {
                var at = value.lowerBound
                key = String(try ProtoWire.readVarint(buf, &at, end: value.upperBound))
            }
        }
        return key
    }
}
