/// Why a response could not be masked. The caller fails closed on it (502 / INTERNAL)
/// unless the policy explicitly lets unparseable responses pass.
public struct MaskingError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Masks a JSON document as it streams: bytes go in as they arrive, masked bytes come out
/// as soon as each value is complete. Memory is bounded by the longest string (and the
/// nesting depth), not the document. Structure, numbers and unchanged strings are copied
/// as they came; a masked string is re-encoded, so the output is always valid JSON.
public final class JSONMasker {
    public let policy: MaskingPolicy
    private var machine: JSONMachine

    public init(policy: MaskingPolicy, maxStringBytes: Int = 16 << 20, maxDepth: Int = 128) {
        self.policy = policy
        self.machine = JSONMachine(policy: policy, maxStringBytes: maxStringBytes, maxDepth: maxDepth)
    }

    /// How many values of each kind were masked so far.
    public var findings: [EntityKind: Int] { machine.findings }

    /// Masks one more chunk; returns what can be sent now.
    public func feed(_ chunk: UnsafeBufferPointer<UInt8>) throws(MaskingError) -> [UInt8] {
        // The machine runs as a local value: no exclusivity checks per byte, and its
        // buffers stay uniquely referenced (so they are reused, not copied).
        var local = machine
        machine = JSONMachine.placeholder
        defer { machine = local }
        return try local.feed(chunk)
    }

    public func feed(_ chunk: [UInt8]) throws(MaskingError) -> [UInt8] {
        var result: Result<[UInt8], MaskingError> = .success([])
        chunk.withUnsafeBufferPointer { buffer in
            do throws(MaskingError) { result = .success(try feed(buffer)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// The end of the document: whatever is still held, or an error if it is incomplete.
    public func finish() throws(MaskingError) -> [UInt8] {
        try machine.finish()
    }

    /// Masks a whole document at once.
    public static func mask(_ document: [UInt8], policy: MaskingPolicy) throws(MaskingError) -> [UInt8] {
        let masker = JSONMasker(policy: policy)
        return try masker.feed(document) + masker.finish()
    }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    static func isNumber(_ n: [UInt8]) -> Bool { JSONMachine.isNumber(n) }
}

/// The JSON masker's state machine.
struct JSONMachine {
    let policy: MaskingPolicy
    let maxStringBytes: Int
    let maxDepth: Int
    private(set) var findings: [EntityKind: Int] = [:]

    private enum Container { case object, array }
    private struct Frame {
        var container: Container
        var key: String?
        /// `key` in lower case, when field rules need it.
        var lowerKey: String?
        var index = -1
        var emitted = 0
    }
    private enum Expect { case value, key, colon, commaOrEnd, done }
    private enum Token { case none, string(key: Bool), number, literal([UInt8], Int) }

    private var stack: [Frame] = []
    private var expect = Expect.value
    private var token = Token.none
    private var escaped = false
    private var raw: [UInt8] = []
    /// A member name (with what follows it up to the value) held until its value decides
    /// whether the member stays.
    private var pendingKey: [UInt8] = []
    private var hasPendingKey = false
    private var offset = 0
    /// Containers being replaced whole by a field rule: their bytes are parsed, not written.
    private var muted = 0
    private var mutedAction: MaskAction?
    private var out: [UInt8] = []

    init(policy: MaskingPolicy, maxStringBytes: Int, maxDepth: Int) {
        self.policy = policy
        self.maxStringBytes = maxStringBytes
        self.maxDepth = maxDepth
        holdsMembers = policy.mayDrop
    }

    /// Member names and commas wait for their value only when a value may be dropped
    /// (taking its member along); otherwise they are written as they come.
    private let holdsMembers: Bool

    static let placeholder = JSONMachine(policy: MaskingPolicy(kinds: []), maxStringBytes: 0, maxDepth: 0)

    mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>) throws(MaskingError) -> [UInt8] {
        out.removeAll(keepingCapacity: true)
        var i = 0
        let n = chunk.count
        while i < n {
            // Inside a string, find the next quote, backslash or control byte at once.
            if case .string(let isKey) = token, !escaped {
                var j = i
                var high: UInt8 = 0
                // Eight bytes at a time while none of them ends the run.
                var highWord: UInt64 = 0
                while j + 8 <= n {
                    let word = UnsafeRawPointer(chunk.baseAddress! + j).loadUnaligned(as: UInt64.self)
                    if JSONString.mayStopRun(word) { break }
                    highWord |= word
                    j += 8
                }
                if highWord & 0x8080_8080_8080_8080 != 0 { high = 0x80 }
                while j < n {
                    let c = chunk[j]
                    if c == 0x22 || c == 0x5C || c < 0x20 { break }
                    high |= c
                    j += 1
                }
                // The whole string is in this chunk, quotes included, without escapes: it is
                // read where it lies, never copied.
                if j < n, chunk[j] == 0x22, raw.count == 1, i > 0 {
                    offset += j - i + 1
                    token = .none
                    try finishString(UnsafeBufferPointer(rebasing: chunk[(i - 1)...j]), isKey: isKey,
                                     hasEscape: false, ascii: high < 0x80)
                    i = j + 1
                    continue
                }
                if j > i {
                    raw.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[i..<j]))
                    offset += j - i
                    guard raw.count <= maxStringBytes else {
                        throw MaskingError("a JSON string is longer than \(maxStringBytes) bytes")
                    }
                    i = j
                    if i == n { break }
                }
            }
            offset += 1
            try consume(chunk[i])
            i += 1
        }
        return out
    }

    mutating func finish() throws(MaskingError) -> [UInt8] {
        out.removeAll(keepingCapacity: true)
        if case .number = token {
            try finishNumber()
            token = .none
        }
        guard case .none = token, expect == .done, stack.isEmpty else {
            throw MaskingError("JSON ends early (offset \(offset))")
        }
        return out
    }

    // MARK: Tokens

    private mutating func consume(_ byte: UInt8) throws(MaskingError) {
        switch token {
        case .string(let isKey):
            raw.append(byte)
            if escaped {
                escaped = false
            } else if byte == 0x5C {
                escaped = true
            } else if byte == 0x22 {
                token = .none
                try finishString(isKey: isKey)
            } else if byte < 0x20 {
                throw invalid("control character in a string")
            } else if raw.count > maxStringBytes {
                throw MaskingError("a JSON string is longer than \(maxStringBytes) bytes")
            }
            return
        case .number:
            if Byte.isDigit(byte) || byte == 0x2E || byte == 0x2D || byte == 0x2B || byte == 0x65 || byte == 0x45 {
                raw.append(byte)
                guard raw.count <= 1024 else { throw invalid("number too long") }
                return
            }
            token = .none
            try finishNumber()
        case .literal(let word, let position):
            guard byte == word[position] else { throw invalid("unknown literal") }
            if position + 1 < word.count {
                token = .literal(word, position + 1)
            } else {
                token = .none
                try word.withUnsafeBufferPointer { (bytes) throws(MaskingError) in try finishScalar(bytes, masked: nil) }
            }
            return
        case .none:
            break
        }
        try structural(byte)
    }

    private mutating func structural(_ byte: UInt8) throws(MaskingError) {
        switch byte {
        case 0x20, 0x0A, 0x0D, 0x09:
            // Whitespace after a comma waits for the comma, which waits for the next member.
            if hasPendingKey { pendingKey.append(byte) } else if trailingComma && holdsMembers { gap.append(byte) } else { emit(byte) }
        case 0x22:
            switch expect {
            case .key: token = .string(key: true)
            case .value: try beginValue(); token = .string(key: false)
            default: throw invalid("unexpected string")
            }
            // Usually `raw` still holds just the quote of the last string (read in place).
            if raw.count != 1 || raw[0] != 0x22 {
                raw.removeAll(keepingCapacity: true)
                raw.append(byte)
            }
        case 0x7B, 0x5B:
            guard expect == .value else { throw invalid("unexpected \(byte == 0x7B ? "{" : "[")") }
            guard stack.count < maxDepth else { throw MaskingError("JSON nested deeper than \(maxDepth)") }
            try beginValue()
            let rule = muted == 0 ? fieldRule() : nil
            if let rule {
                muted = 1
                mutedAction = rule.action
            } else if muted > 0 {
                muted += 1
            } else {
                writeMemberPrefix()
                emit(byte)
            }
            stack.append(Frame(container: byte == 0x7B ? .object : .array))
            expect = byte == 0x7B ? .key : .value
        case 0x7D, 0x5D:
            let container: Container = byte == 0x7D ? .object : .array
            guard let frame = stack.last, frame.container == container else { throw invalid("unbalanced bracket") }
            // `}` after a key is wanted means `{}` or a trailing comma; only the first is JSON.
            let empty = frame.emitted == 0 && frame.index <= 0 && frame.key == nil
            guard expect == .commaOrEnd || ((expect == .key || expect == .value) && empty && !trailingComma) else {
                throw invalid("unexpected \(byte == 0x7D ? "}" : "]")")
            }
            stack.removeLast()
            trailingComma = false
            if muted > 0 {
                muted -= 1
                if muted == 0 {
                let replacement = mutedAction.map { action in
                    [UInt8]().withUnsafeBufferPointer { wholeValue($0, action) }
                }
                try finishScalar(nil, masked: replacement)
            }
            } else {
                emit(byte)
                valueDone()
            }
        case 0x3A:
            guard expect == .colon else { throw invalid("unexpected :") }
            if hasPendingKey { pendingKey.append(byte) } else { emit(byte) }
            expect = .value
        case 0x2C:
            guard expect == .commaOrEnd, let frame = stack.last else { throw invalid("unexpected ,") }
            expect = frame.container == .object ? .key : .value
            trailingComma = true
            if !holdsMembers { emit(byte) }
            if frame.container == .object {
                stack[stack.count - 1].key = nil
                stack[stack.count - 1].lowerKey = nil
            }
        case 0x2D, 0x30...0x39:
            guard expect == .value else { throw invalid("unexpected number") }
            try beginValue()
            token = .number
            raw.removeAll(keepingCapacity: true)
            raw.append(byte)
        case 0x74, 0x66, 0x6E:
            guard expect == .value else { throw invalid("unexpected literal") }
            try beginValue()
            let word: [UInt8] = byte == 0x74 ? Array("true".utf8) : byte == 0x66 ? Array("false".utf8) : Array("null".utf8)
            token = .literal(word, 1)
        default:
            throw invalid("unexpected byte 0x\(String(byte, radix: 16))")
        }
    }

    private var trailingComma = false
    /// Whitespace between a held-back comma and the next member.
    private var gap: [UInt8] = []

    private func invalid(_ what: String) -> MaskingError {
        MaskingError("invalid JSON at offset \(offset): \(what)")
    }

    // MARK: Values

    /// A value starts: arrays count their elements.
    private mutating func beginValue() throws(MaskingError) {
        trailingComma = false
        if let last = stack.last, last.container == .array { stack[stack.count - 1].index += 1 }
    }

    private mutating func finishString(isKey: Bool) throws(MaskingError) {
        let bytes = raw  // a second reference: the buffer stays valid while self changes
        try bytes.withUnsafeBufferPointer { (all) throws(MaskingError) in
            try finishString(all, isKey: isKey, hasEscape: nil, ascii: nil)
        }
    }

    /// A whole string token, quotes included; what is already known of it saves a pass.
    private mutating func finishString(_ all: UnsafeBufferPointer<UInt8>, isKey: Bool, hasEscape: Bool?,
                                       ascii: Bool?) throws(MaskingError) {
        let content = UnsafeBufferPointer(rebasing: all[1..<(all.count - 1)])
        let hasEscape = hasEscape ?? content.contains(0x5C)
        let ascii = ascii ?? !content.contains(where: { $0 > 0x7F })
        if isKey {
            let name: String
            if hasEscape {
                guard let decoded = JSONString.decode(content), ascii || JSONString.isValidUTF8(decoded) else {
                    throw invalid("bad string escape or UTF-8")
                }
                name = String(decoding: decoded, as: UTF8.self)
            } else {
                guard ascii || Byte.isValidUTF8(content) else { throw invalid("invalid UTF-8") }
                name = String(decoding: content, as: UTF8.self)
            }
            stack[stack.count - 1].key = name
            stack[stack.count - 1].lowerKey = policy.fields.isEmpty ? nil : name.lowercased()
            if !holdsMembers {
                emit(all)
            } else if muted == 0 {
                pendingKey.removeAll(keepingCapacity: true)
                pendingKey.append(contentsOf: all)
                hasPendingKey = true
            }
            expect = .colon
            return
        }
        if muted > 0 {
            valueDone()
            return
        }
        if hasEscape {
            guard let decoded = JSONString.decode(content) else { throw invalid("bad string escape or UTF-8") }
            try decoded.withUnsafeBufferPointer { (text) throws(MaskingError) in try finishStringValue(text, all) }
        } else {
            guard ascii || Byte.isValidUTF8(content) else { throw invalid("invalid UTF-8") }
            try finishStringValue(content, all)
        }
    }

    private mutating func finishStringValue(_ text: UnsafeBufferPointer<UInt8>,
                                            _ original: UnsafeBufferPointer<UInt8>) throws(MaskingError) {
        if let rule = fieldRule() {
            try finishScalar(original, masked: wholeValue(text, rule.action))
        } else {
            try finishScalar(original, masked: maskText(text))
        }
    }

    private mutating func finishNumber() throws(MaskingError) {
        guard Self.isNumber(raw) else { throw invalid("malformed number") }
        if muted > 0 {
            valueDone()
            return
        }
        // A card number written as a JSON number is still a card number.
        let bytes = raw
        try bytes.withUnsafeBufferPointer { (text) throws(MaskingError) in try finishStringValue(text, text) }
    }

    /// Writes a finished scalar: the original bytes, or the masked replacement (a JSON
    /// string), or nothing at all when the member is dropped.
    private mutating func finishScalar(_ original: UnsafeBufferPointer<UInt8>?, masked: Replacement?) throws(MaskingError) {
        if muted > 0 {
            valueDone()
            return
        }
        switch masked {
        case nil:
            writeMemberPrefix()
            if let original, muted == 0 { out.append(contentsOf: original) }
        case .drop:
            if let frame = stack.last, frame.container == .array {
                writeMemberPrefix()
                emit(Array("null".utf8))
            } else if stack.isEmpty || !holdsMembers {  // (the name is out already: never without a drop action)
                emit(Array("null".utf8))
            } else {
                hasPendingKey = false  // the member disappears, name and all
                gap.removeAll(keepingCapacity: true)
            }
        case .text(let bytes):
            writeMemberPrefix()
            JSONString.encode(bytes, into: &out)
        case .json(let bytes):
            writeMemberPrefix()
            emit(bytes)
        }
        mutedAction = nil
        valueDone()
    }

    private mutating func valueDone() {
        expect = stack.isEmpty ? .done : .commaOrEnd
    }

    private mutating func writeMemberPrefix() {
        guard muted == 0, holdsMembers else { return }
        if let frame = stack.last {
            if frame.emitted > 0 { emit(0x2C) }
            stack[stack.count - 1].emitted += 1
        }
        if !gap.isEmpty {  // removeAll is not free even on an empty array
            emit(gap)
            gap.removeAll(keepingCapacity: true)
        }
        if hasPendingKey {
            emit(pendingKey)
            hasPendingKey = false
        }
    }

    private mutating func emit(_ byte: UInt8) { if muted == 0 { out.append(byte) } }
    private mutating func emit(_ bytes: [UInt8]) { if muted == 0 { out += bytes } }
    private mutating func emit(_ bytes: UnsafeBufferPointer<UInt8>) { if muted == 0 { out.append(contentsOf: bytes) } }

    // MARK: Policy

    private enum Replacement {
        case text([UInt8])
        /// Masked JSON nested in a string, re-encoded as a string.
        case json([UInt8])
        case drop
    }

    private mutating func maskText(_ text: UnsafeBufferPointer<UInt8>) -> Replacement? {
        let nestedDepth = stack.count < maxDepth / 2 ? maxDepth / 2 : 0
        switch policy.maskString(text, keyHint: stack.last?.key, nestedDepth: nestedDepth,
                                 maxStringBytes: maxStringBytes, findings: &findings) {
        case nil: return nil
        case .text(let bytes)?: return .text(bytes)
        case .drop?: return .drop
        case .json(let masked)?:
            var quoted: [UInt8] = []
            JSONString.encode(masked, into: &quoted)
            return .json(quoted)
        }
    }

    private mutating func wholeValue(_ value: UnsafeBufferPointer<UInt8>, _ action: MaskAction) -> Replacement {
        findings[.custom, default: 0] += 1
        if action == .drop { return .drop }
        let label = (stack.last?.key ?? "field").uppercased()
        return .text(policy.replacement(for: value, label: label, action: action))
    }

    /// The field rule that covers the value about to be written, if any.
    private func fieldRule() -> FieldRule? {
        guard !policy.fields.isEmpty else { return nil }
        let lowered = stack.last?.lowerKey
        for rule in policy.fields {
            switch rule.selector {
            case .key(let name):
                if let lowered, lowered == name { return rule }
            case .path(let steps):
                if matches(steps) { return rule }
            }
        }
        return nil
    }

    private func matches(_ steps: [FieldRule.PathStep]) -> Bool {
        guard steps.count == stack.count else { return false }
        for (step, frame) in zip(steps, stack) {
            switch (step, frame.container) {
            case (.key(let name), .object): if frame.key != name { return false }
            case (.anyIndex, .array): continue
            case (.index(let i), .array): if frame.index != i { return false }
            default: return false
            }
        }
        return true
    }

    static func isNumber(_ n: [UInt8]) -> Bool {
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
