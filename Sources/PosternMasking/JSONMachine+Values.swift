/// Scalar values: what the policy makes of them, and how they are written.
extension JSONMachine {
    enum Replacement {
        case text([UInt8])
        /// Masked JSON nested in a string, re-encoded as a string.
        case json([UInt8])
        case drop
    }

    /// A whole string token, quotes included, that ends at `span.upperBound` in `b`; its
    /// first `carried` bytes came in earlier chunks (they are in `raw`).
    mutating func finishString(_ token: UnsafeBufferPointer<UInt8>, isKey: Bool, _ scan: JSONString.Scan,
                               _ b: UnsafeBufferPointer<UInt8>, _ span: Range<Int>, carried: Int) throws(MaskingError) {
        let content = UnsafeBufferPointer(rebasing: token[1..<(token.count - 1)])
        var decoded: [UInt8]?
        if scan.hasEscape {
            decoded = JSONString.decode(content)
            guard decoded != nil else { throw invalid(span.lowerBound, "bad string escape or UTF-8") }
        } else {
            guard scan.ascii || Byte.isValidUTF8(content) else { throw invalid(span.lowerBound, "invalid UTF-8") }
        }
        if isKey {
            if let decoded { decoded.withUnsafeBufferPointer { readName($0) } } else { readName(content) }
            writeCarried(carried)
            expect = .colon
        } else if muted > 0 {
            valueDone()
        } else if decoded == nil, !scan.triggers, detectorsOnly {
            settle(nil, b, span, carried: carried)  // no byte in it can begin a value
        } else if let decoded {
            settle(decoded.withUnsafeBufferPointer { masked($0) }, b, span, carried: carried)
        } else {
            settle(masked(content), b, span, carried: carried)
        }
    }

    /// A whole number, `text`, that ends at `span.upperBound` in `b`.
    mutating func finishNumber(_ text: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, _ span: Range<Int>,
                               carried: Int) throws(MaskingError) {
        guard Self.isNumber(text) else { throw invalid(span.lowerBound, "malformed number") }
        guard muted == 0 else {
            valueDone()
            return
        }
        // A card number written as a JSON number is still a card number; a short number
        // holds no built-in value, so only rules and the operator's patterns look at it. Seven
        // or eight characters hold one only as an integer (an SSN that lost its leading zeros).
        let mayHold = text.count >= 9 || !detectorsOnly
            || text.count >= EntityScanner.shortestBareNumber && text.allSatisfy(Byte.isDigit)
        settle(mayHold ? masked(text) : nil, b, span, carried: carried)
    }

    /// Writes the value that ends at `span.upperBound` in `b`: as it came, or replaced.
    mutating func settle(_ replacement: Replacement?, _ b: UnsafeBufferPointer<UInt8>, _ span: Range<Int>, carried: Int) {
        defer { valueDone() }
        guard let replacement else {
            writeCarried(carried)
            keepMember()
            return
        }
        flush(b, to: span.lowerBound)
        copied = span.upperBound
        switch replacement {
        case .drop:
            if let held = heldFrom {  // the member goes, name and all
                out.removeSubrange(held...)
                heldFrom = nil
                return
            }
            out.append(contentsOf: "null".utf8)  // an array element keeps its place
        case .text(let bytes):
            JSONString.encode(bytes, into: &out)
        case .json(let bytes):
            out += bytes
        }
        keepMember()
    }

    /// The part of the token that came in earlier chunks, written as it came.
    private mutating func writeCarried(_ carried: Int) {
        if carried > 0, muted == 0 { out.append(contentsOf: raw[..<carried]) }
    }

    /// The current member's name becomes `name`. `names` only grows: what lies past the
    /// innermost name is stale and overwritten in place.
    private mutating func readName(_ name: UnsafeBufferPointer<UInt8>) {
        let top = stack.count - 1
        let start = stack[top].name.lowerBound
        let end = start + name.count
        if names.count < end { names.append(contentsOf: repeatElement(0, count: end - names.count)) }
        if let source = name.baseAddress {
            names.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: start).update(from: source, count: name.count) }
        }
        stack[top].name = start..<end
        stack[top].index += 1
    }

    // MARK: Policy

    /// What the policy makes of a value: a field rule's, else the detectors'. nil: unchanged.
    mutating func masked(_ text: UnsafeBufferPointer<UInt8>) -> Replacement? {
        if let rule = fieldRule() { return wholeValue(text, rule.action) }
        let nestedDepth = stack.count < maxDepth / 2 ? maxDepth / 2 : 0
        var found = findings
        findings = [:]  // one reference while it changes: never copied
        defer { findings = found }
        let result = names.withUnsafeBufferPointer { names in
            policy.maskString(text, key: memberName().map { UnsafeBufferPointer(rebasing: names[$0]) },
                              nestedDepth: nestedDepth, maxStringBytes: maxStringBytes, findings: &found)
        }
        switch result {
        case nil: return nil
        case .text(let bytes)?: return .text(bytes)
        case .drop?: return .drop
        case .json(let masked)?:
            var quoted: [UInt8] = []
            JSONString.encode(masked, into: &quoted)
            return .json(quoted)
        }
    }

    /// The whole value replaced under a field rule, labelled by its member's name.
    mutating func wholeValue(_ value: UnsafeBufferPointer<UInt8>, _ action: MaskAction) -> Replacement {
        findings[.custom, default: 0] += 1
        if action == .drop { return .drop }
        let label = memberName().map { String(decoding: names[$0], as: UTF8.self).uppercased() } ?? "FIELD"
        return .text(policy.replacement(for: value, label: label, action: action))
    }

    /// Where the name the value is under is in `names`: its member's, or for an array
    /// element the enclosing member's.
    private func memberName() -> Range<Int>? {
        stack.last(where: { $0.container == .object })?.name
    }

    /// The field rule that covers the value about to be read, if any.
    func fieldRule() -> FieldRule? {
        guard let rules else { return nil }
        return names.withUnsafeBufferPointer { rules.match(stack, names: $0) }
    }

    static func isNumber(_ n: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        if n.first == 0x2D { i += 1 }
        func digits() -> Int {
            let start = i
            while i < n.count, Byte.isDigit(n[i]) { i += 1 }
            return i - start
        }
        guard i < n.count else { return false }
        if n[i] == 0x30 { i += 1 } else if digits() == 0 { return false }
        if i < n.count, n[i] == 0x2E {
            i += 1
            if digits() == 0 { return false }
        }
        if i < n.count, n[i] | 0x20 == 0x65 {
            i += 1
            if i < n.count, n[i] == 0x2B || n[i] == 0x2D { i += 1 }
            if digits() == 0 { return false }
        }
        return i == n.count
    }
}

/// Field rules with their names as bytes, matched against the open containers as they are
/// read (no strings made per member).
struct CompiledFieldRules {
    private enum Step { case key([UInt8]), index(Int), anyIndex }
    private enum Selector { case key([UInt8]), path([Step]) }
    private let rules: [(selector: Selector, rule: FieldRule)]

    init(_ fields: [FieldRule]) {
        rules = fields.map { rule in
            switch rule.selector {
            case .key(let name):
                return (.key(Array(name.utf8)), rule)
            case .path(let steps):
                return (.path(steps.map { step in
                    switch step {
                    case .key(let name): .key(Array(name.utf8))
                    case .index(let i): .index(i)
                    case .anyIndex: .anyIndex
                    }
                }), rule)
            }
        }
    }

    func match(_ stack: [JSONMachine.Frame], names: UnsafeBufferPointer<UInt8>) -> FieldRule? {
        for (selector, rule) in rules {
            switch selector {
            case .key(let name):
                // A key rule covers a member's value (anywhere), not an array element.
                if let top = stack.last, top.container == .object,
                   Self.sameIgnoringCase(UnsafeBufferPointer(rebasing: names[top.name]), name) { return rule }
            case .path(let steps):
                if matches(steps, stack, names) { return rule }
            }
        }
        return nil
    }

    private func matches(_ steps: [Step], _ stack: [JSONMachine.Frame], _ names: UnsafeBufferPointer<UInt8>) -> Bool {
        guard steps.count == stack.count else { return false }
        for (step, frame) in zip(steps, stack) {
            switch (step, frame.container) {
            case (.key(let name), .object): if !names[frame.name].elementsEqual(name) { return false }
            case (.anyIndex, .array): continue
            case (.index(let i), .array): if frame.index != i { return false }
            default: return false
            }
        }
        return true
    }

    /// `name` against a rule's lower-case name; beyond ASCII, by Unicode lower case.
    private static func sameIgnoringCase(_ name: UnsafeBufferPointer<UInt8>, _ lower: [UInt8]) -> Bool {
        if name.contains(where: { $0 > 0x7F }) {
            return Array(String(decoding: name, as: UTF8.self).lowercased().utf8) == lower
        }
        return name.count == lower.count && zip(name, lower).allSatisfy { ($0 | (Byte.isUpper($0) ? 0x20 : 0)) == $1 }
    }
}
