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
    static func isNumber(_ n: [UInt8]) -> Bool { n.withUnsafeBufferPointer(JSONMachine.isNumber) }
}

/// The JSON masker's state machine. It reads each chunk where it lies and writes it out in
/// spans: bytes that stay as they came are copied from `copied` up to the next value that
/// changes, which is written in their place. A token cut by the chunk's end waits in `raw`.
struct JSONMachine {
    let policy: MaskingPolicy
    let maxStringBytes: Int
    let maxDepth: Int
    var findings: [EntityKind: Int] = [:]

    enum Container { case object, array }
    struct Frame {
        var container: Container
        /// Where the current member's name is in `names`.
        var name: Range<Int>
        /// The element (array) or member (object) being read; -1 before the first.
        var index = -1
        /// Members written so far, when members may be dropped.
        var kept = 0
    }
    enum Expect { case value, key, colon, commaOrEnd, done }
    /// A token the last chunk ended inside of.
    enum Partial { case none, string(key: Bool), number, literal(StaticString, Int) }

    var stack: [Frame] = []
    /// The member names of the open objects, outermost first (see `Frame.name`).
    var names: [UInt8] = []
    var expect = Expect.value
    var partial = Partial.none
    /// The bytes of a partial string or number so far.
    var raw: [UInt8] = []
    var rawScan = JSONString.Scan()
    /// The document offset of the chunk being read, for error messages.
    var base = 0
    /// Containers being replaced whole by a field rule: their bytes are parsed, not written.
    var muted = 0
    var mutedAction: MaskAction?
    var out: [UInt8] = []
    /// The chunk's bytes before this are written out (or deliberately left out).
    var copied = 0
    /// `out[heldFrom...]` is a member whose value may still be dropped (name, comma and all).
    var heldFrom: Int?
    /// Members are held until their value is known only when a value may be dropped.
    let holdsMembers: Bool
    let rules: CompiledFieldRules?
    /// No field rules or operator patterns: only the built-in detectors look at values.
    let detectorsOnly: Bool

    init(policy: MaskingPolicy, maxStringBytes: Int, maxDepth: Int) {
        self.policy = policy
        self.maxStringBytes = maxStringBytes
        self.maxDepth = maxDepth
        holdsMembers = policy.mayDrop
        rules = policy.fields.isEmpty ? nil : CompiledFieldRules(policy.fields)
        detectorsOnly = policy.fields.isEmpty && policy.patterns.isEmpty
    }

    static let placeholder = JSONMachine(policy: MaskingPolicy(kinds: []), maxStringBytes: 0, maxDepth: 0)

    mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>) throws(MaskingError) -> [UInt8] {
        copied = 0
        out.reserveCapacity(out.count + chunk.count + 64)
        var i = try resume(chunk)
        while i < chunk.count { i = try step(chunk, i) }
        flush(chunk, to: chunk.count)
        base += chunk.count
        guard let held = heldFrom else {
            defer { out = [] }
            return out
        }
        guard out.count - held <= maxStringBytes else { throw MaskingError("a JSON member is held longer than \(maxStringBytes) bytes") }
        defer {
            out.removeSubrange(..<held)
            heldFrom = 0
        }
        return Array(out[..<held])
    }

    mutating func finish() throws(MaskingError) -> [UInt8] {
        if case .number = partial {
            partial = .none
            let token = raw
            try token.withUnsafeBufferPointer { (text) throws(MaskingError) in
                try finishNumber(text, UnsafeBufferPointer(start: nil, count: 0), 0..<0, carried: text.count)
            }
        }
        guard case .none = partial, expect == .done, stack.isEmpty else {
            throw MaskingError("JSON ends early (offset \(base))")
        }
        defer { out = [] }
        return out
    }

    // MARK: Tokens

    /// Reads the token at `i`; returns where the next one starts.
    private mutating func step(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) throws(MaskingError) -> Int {
        switch b[i] {
        case 0x20, 0x0A, 0x0D, 0x09:
            return Self.skipSpace(b, i + 1)
        case 0x22:
            return try string(b, i)
        case 0x2D, 0x30...0x39:
            return try number(b, i)
        case 0x74:
            return try literal(b, i, "true")
        case 0x66:
            return try literal(b, i, "false")
        case 0x6E:
            return try literal(b, i, "null")
        case 0x7B, 0x5B:
            try open(b, i)
        case 0x7D, 0x5D:
            try close(b, i)
        case 0x3A:
            guard expect == .colon else { throw invalid(i, "unexpected :") }
            expect = .value
            return Self.skipSpace(b, i + 1)
        case 0x2C:
            try comma(b, i)
            return Self.skipSpace(b, i + 1)
        default:
            throw invalid(i, "unexpected byte 0x\(String(b[i], radix: 16))")
        }
        return i + 1
    }

    @inline(__always) private static func skipSpace(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        var j = i
        while j < b.count, b[j] == 0x20 || b[j] == 0x0A || b[j] == 0x0D || b[j] == 0x09 { j += 1 }
        return j
    }

    /// The rest of the token the last chunk ended inside of; returns where it ends.
    private mutating func resume(_ b: UnsafeBufferPointer<UInt8>) throws(MaskingError) -> Int {
        switch partial {
        case .none:
            return 0
        case .string(let isKey):
            var scan = rawScan
            let j = scan.end(b, from: 0)
            let taken = j < b.count ? j + 1 : j
            raw.append(contentsOf: UnsafeBufferPointer(rebasing: b[..<taken]))
            guard raw.count <= maxStringBytes + 2 else { throw tooLong() }
            guard j < b.count else {
                rawScan = scan
                copied = b.count
                return b.count
            }
            guard b[j] == 0x22 else { throw invalid(j, "control character in a string") }
            partial = .none
            let token = raw  // a second reference: the buffer stays valid while self changes
            try token.withUnsafeBufferPointer { (all) throws(MaskingError) in
                try finishString(all, isKey: isKey, scan, b, 0..<taken, carried: all.count - taken)
            }
            return taken
        case .number:
            var j = 0
            while j < b.count, Self.isNumberByte(b[j]) { j += 1 }
            raw.append(contentsOf: UnsafeBufferPointer(rebasing: b[..<j]))
            guard raw.count <= 1024 else { throw invalid(j, "number too long") }
            guard j == b.count else {
                partial = .none
                let token = raw
                try token.withUnsafeBufferPointer { (text) throws(MaskingError) in
                    try finishNumber(text, b, 0..<j, carried: text.count - j)
                }
                return j
            }
            copied = b.count
            return j
        case .literal(let word, let position):
            let n = word.utf8CodeUnitCount
            var j = 0
            while j < b.count, position + j < n {
                guard b[j] == word.utf8Start[position + j] else { throw invalid(j, "unknown literal") }
                j += 1
            }
            if position + j == n {
                partial = .none
                literalDone()
            } else {
                partial = .literal(word, position + j)
            }
            return j
        }
    }

    private mutating func string(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) throws(MaskingError) -> Int {
        let isKey: Bool
        switch expect {
        case .key:
            isKey = true
            if holdsMembers, muted == 0, heldFrom == nil {
                flush(b, to: i)
                heldFrom = out.count
            }
        case .value:
            isKey = false
            beginValue()
        default:
            throw invalid(i, "unexpected string")
        }
        var scan = JSONString.Scan()
        let j = scan.end(b, from: i + 1)
        guard j < b.count else {
            guard j - i <= maxStringBytes + 2 else { throw tooLong() }
            keepPartial(.string(key: isKey), b, from: i)
            rawScan = scan
            return j
        }
        guard b[j] == 0x22 else { throw invalid(j, "control character in a string") }
        try finishString(UnsafeBufferPointer(rebasing: b[i...j]), isKey: isKey, scan, b, i..<(j + 1), carried: 0)
        return j + 1
    }

    private mutating func number(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) throws(MaskingError) -> Int {
        guard expect == .value else { throw invalid(i, "unexpected number") }
        beginValue()
        var j = i + 1
        while j < b.count, Self.isNumberByte(b[j]) { j += 1 }
        guard j < b.count else {
            guard j - i <= 1024 else { throw invalid(j, "number too long") }
            keepPartial(.number, b, from: i)
            return j
        }
        try finishNumber(UnsafeBufferPointer(rebasing: b[i..<j]), b, i..<j, carried: 0)
        return j
    }

    /// `true`, `false` or `null`: never masked, so copied through even when cut by the chunk's end.
    private mutating func literal(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ word: StaticString) throws(MaskingError) -> Int {
        guard expect == .value else { throw invalid(i, "unexpected literal") }
        beginValue()
        let n = word.utf8CodeUnitCount
        var k = 1
        while k < n, i + k < b.count {
            guard b[i + k] == word.utf8Start[k] else { throw invalid(i + k, "unknown literal") }
            k += 1
        }
        if k == n {
            literalDone()
        } else {
            partial = .literal(word, k)
        }
        return i + k
    }

    /// The token from `i` continues in the next chunk: what comes before it is written,
    /// it waits in `raw`.
    private mutating func keepPartial(_ token: Partial, _ b: UnsafeBufferPointer<UInt8>, from i: Int) {
        flush(b, to: i)
        copied = b.count
        raw.removeAll(keepingCapacity: true)
        raw.append(contentsOf: UnsafeBufferPointer(rebasing: b[i...]))
        partial = token
    }

    // MARK: Structure

    private mutating func open(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) throws(MaskingError) {
        let isObject = b[i] == 0x7B
        guard expect == .value else { throw invalid(i, "unexpected \(isObject ? "{" : "[")") }
        guard stack.count < maxDepth else { throw MaskingError("JSON nested deeper than \(maxDepth)") }
        beginValue()
        if muted > 0 {
            muted += 1
        } else if let rule = fieldRule() {  // the whole container is replaced, or goes
            flush(b, to: i)
            muted = 1
            mutedAction = rule.action
        } else {
            keepMember()
        }
        let namesEnd = stack.last?.name.upperBound ?? 0
        stack.append(Frame(container: isObject ? .object : .array, name: namesEnd..<namesEnd))
        expect = isObject ? .key : .value
    }

    private mutating func close(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) throws(MaskingError) {
        let isObject = b[i] == 0x7D
        guard let frame = stack.last, frame.container == (isObject ? .object : .array) else {
            throw invalid(i, "unbalanced bracket")
        }
        // `}` where a key is wanted is `{}` (or a trailing comma, which is not JSON).
        guard expect == .commaOrEnd || ((expect == .key || expect == .value) && frame.index == -1) else {
            throw invalid(i, "unexpected \(isObject ? "}" : "]")")
        }
        stack.removeLast()
        guard muted > 0 else {
            valueDone()
            return
        }
        muted -= 1
        guard muted == 0 else { return }
        muted = 1
        flush(b, to: i + 1)  // leaves the container out
        muted = 0
        let replacement = mutedAction.map { action in [UInt8]().withUnsafeBufferPointer { wholeValue($0, action) } }
        mutedAction = nil
        settle(replacement, b, (i + 1)..<(i + 1), carried: 0)
    }

    private mutating func comma(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) throws(MaskingError) {
        guard expect == .commaOrEnd, let frame = stack.last else { throw invalid(i, "unexpected ,") }
        guard frame.container == .object else {
            expect = .value
            return
        }
        expect = .key
        guard holdsMembers, muted == 0 else { return }
        flush(b, to: i)
        if frame.kept == 0 {
            copied = i + 1  // every member before it went: a comma would lead
        } else {
            heldFrom = out.count  // the next member, comma first
        }
    }

    // MARK: Output

    /// Writes the chunk's bytes from `copied` up to `end` as they came.
    @inline(__always) mutating func flush(_ b: UnsafeBufferPointer<UInt8>, to end: Int) {
        if muted == 0, end > copied { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[copied..<end])) }
        copied = end
    }

    /// A value starts: arrays count their elements.
    private mutating func beginValue() {
        if let last = stack.last, last.container == .array { stack[stack.count - 1].index += 1 }
    }

    mutating func valueDone() {
        expect = stack.isEmpty ? .done : .commaOrEnd
    }

    private mutating func literalDone() {
        if muted == 0 { keepMember() }
        valueDone()
    }

    /// The held member stays.
    mutating func keepMember() {
        guard heldFrom != nil else { return }
        heldFrom = nil
        stack[stack.count - 1].kept += 1
    }

    func invalid(_ i: Int, _ what: String) -> MaskingError {
        MaskingError("invalid JSON at offset \(base + i): \(what)")
    }

    func tooLong() -> MaskingError {
        MaskingError("a JSON string is longer than \(maxStringBytes) bytes")
    }

    @inline(__always) static func isNumberByte(_ c: UInt8) -> Bool {
        Byte.isDigit(c) || c == 0x2E || c == 0x2D || c == 0x2B || c | 0x20 == 0x65
    }
}
