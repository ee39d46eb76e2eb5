/// One text that arrives in pieces (a choice's `delta.content`, a tool call's arguments):
/// each piece is released masked, except the tail that could still grow into an entity,
/// which waits for the next piece. No unmasked span of an entity is ever released, and
/// nothing is held that cannot become one (text up to a space is released at once).
struct HeldText {
    private(set) var pending: [UInt8] = []
    /// The end of the text already released, read again as context only: the words before
    /// a value say what it is (`SSN 123456789`, `version 1.2.3.4`), and a word boundary
    /// is judged as in the whole text.
    private var released: [UInt8] = []
    static let contextBytes = 32
    /// A tail longer than this is released anyway (masked as far as it can be judged), so
    /// a run-on token cannot hold a stream back without bound. PEM blocks get more room.
    let maxHold: Int
    let maxKeyHold: Int

    init(maxHold: Int = 4096, maxKeyHold: Int = 16 << 10) {
        self.maxHold = maxHold
        self.maxKeyHold = maxKeyHold
    }

    /// Adds `piece` and returns what can be released now, masked.
    mutating func append(_ piece: [UInt8], policy: MaskingPolicy, findings: inout [EntityKind: Int]) -> [UInt8] {
        pending += piece
        return release(final: false, policy: policy, findings: &findings)
    }

    /// Everything still held, masked (the stream ended).
    mutating func flush(policy: MaskingPolicy, findings: inout [EntityKind: Int]) -> [UInt8] {
        release(final: true, policy: policy, findings: &findings)
    }

    private mutating func release(final: Bool, policy: MaskingPolicy, findings: inout [EntityKind: Int]) -> [UInt8] {
        guard !pending.isEmpty else { return [] }
        let skip = released.count
        let whole = released + pending
        let (out, cut) = whole.withUnsafeBufferPointer { all -> ([UInt8], Int) in
            let text = UnsafeBufferPointer(rebasing: all[skip...])
            let entities = policy.entities(in: all).compactMap { entity -> Entity? in
                guard entity.range.upperBound > skip else { return nil }
                // One that began in released text (the hold misjudged it): mask what is left.
                var entity = entity
                entity.range = max(entity.range.lowerBound, skip) - skip..<entity.range.upperBound - skip
                return entity
            }
            var cut = final ? text.count : Self.holdStart(text, maxHold: maxHold, maxKeyHold: maxKeyHold)
            // An entity that reaches into the held tail is held whole.
            for entity in entities where !final && entity.range.lowerBound < cut && entity.range.upperBound > cut {
                cut = entity.range.lowerBound
            }
            var out: [UInt8] = []
            var cursor = 0
            for entity in entities where entity.range.upperBound <= cut {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: text[cursor..<entity.range.lowerBound]))
                out += policy.replacement(for: UnsafeBufferPointer(rebasing: text[entity.range]),
                                          label: policy.label(for: entity), action: policy.action(for: entity))
                findings[entity.kind, default: 0] += 1
                cursor = entity.range.upperBound
            }
            if cursor < cut { out.append(contentsOf: UnsafeBufferPointer(rebasing: text[cursor..<cut])) }
            return (out, cut)
        }
        released += pending[..<cut]
        if released.count > Self.contextBytes { released.removeFirst(released.count - Self.contextBytes) }
        pending.removeFirst(cut)
        return out
    }

    /// Where the tail that could still become (part of) an entity begins.
    static func holdStart(_ b: UnsafeBufferPointer<UInt8>, maxHold: Int, maxKeyHold: Int) -> Int {
        let n = b.count
        var start = n
        var extendable = true
        if n > 0, !isSpace(b[n - 1]) {
            // The unfinished last word: an email, token, number or key may go on.
            while start > 0, !isSpace(b[start - 1]) { start -= 1 }
            extendable = n - start <= 8 && isGroup(b, start..<n)
        }
        // Grouped numbers and IBANs continue across single spaces: `4111 1111 ` may be half a
        // card, so the groups before a group (or before a trailing space) are held too.
        while extendable, start > 0, b[start - 1] == 0x20, start < 2 || !isSpace(b[start - 2]) {
            var wordStart = start - 1
            while wordStart > 0, !isSpace(b[wordStart - 1]) { wordStart -= 1 }
            guard wordStart < start - 1, start - 1 - wordStart <= 8, isGroup(b, wordStart..<(start - 1)),
                  n - wordStart <= 64 else { break }
            start = wordStart
        }
        // An unclosed private key block is held from its BEGIN line.
        if let begin = lastUnclosedKey(b) { start = min(start, begin) }
        let limit = start < n && b.hasPrefix("-----BEGIN", at: start) ? maxKeyHold : maxHold
        return max(start, n - limit)
    }

    private static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }

    /// A digit group (`4111`, `(415)`, `555-`, `+44`) or a short capital/digit group (`WEST`),
    /// after an opening bracket or quote (`(BE30`, `"GB82`).
    private static func isGroup(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        var start = r.lowerBound
        // After a label glued on (`PAN:3401`, `phone:(02)`), the group is what follows it.
        if let colon = r.last(where: { b[$0] == 0x3A || b[$0] == 0x3D }), colon + 1 < r.upperBound { start = colon + 1 }
        while start < r.upperBound, [0x28, 0x5B, 0x3C, 0x22, 0x27].contains(b[start]) { start += 1 }
        let length = r.upperBound - start
        var digits = 0
        for i in start..<r.upperBound {
            let c = b[i]
            if Byte.isDigit(c) { digits += 1; continue }
            if [0x2B, 0x28, 0x29, 0x2D, 0x2E].contains(c) { continue }
            if Byte.isUpper(c), length <= 4 { continue }
            return false
        }
        return digits > 0 || length <= 4
    }

    private static func lastUnclosedKey(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        var begin: Int?
        var i = 0
        while i + 10 <= b.count {
            if b[i] == 0x2D {
                if b.hasPrefix("-----BEGIN", at: i) {
                    begin = i
                } else if b.hasPrefix("-----END", at: i) {
                    // Closed only once the END line is complete (`-----END … KEY-----`).
                    var j = i + 8
                    while j < b.count, j - i < 80, b[j] != 0x2D { j += 1 }
                    if b.hasPrefix("-----", at: j) { begin = nil }
                }
            }
            i += 1
        }
        return begin
    }
}
