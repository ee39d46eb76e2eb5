/// JSON string escapes (RFC 8259 §7): decoding what arrives, encoding what Postern writes.
enum JSONString {
    /// The content of `raw` (the string without its quotes), unescaped; nil when an
    /// escape, a control character or the UTF-8 is invalid.
    static func decode(_ raw: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        let n = raw.count
        var i = 0
        var run = 0  // start of the plain bytes not yet copied: copied in one go, up to an escape
        var high = false
        while i < n {
            i = plainRun(raw, from: i, high: &high)
            guard i < n else { break }
            let c = raw[i]
            if c != 0x5C {
                if c < 0x20 { return nil }
                i += 1  // a bare quote, kept: the caller found where the string ends
                continue
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: raw[run..<i]))
            let e = raw.at(i + 1)
            i += 2
            switch e {
            case 0x22, 0x5C, 0x2F: out.append(e)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                guard var scalar = hex4(raw, i) else { return nil }
                i += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    guard raw.at(i) == 0x5C, raw.at(i + 1) == 0x75, let low = hex4(raw, i + 2),
                          (0xDC00...0xDFFF).contains(low) else { return nil }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    return nil
                }
                appendUTF8(UInt32(scalar), to: &out)
            default:
                return nil
            }
            run = i
        }
        if run < n { out.append(contentsOf: UnsafeBufferPointer(rebasing: raw[run..<n])) }
        // Escapes only ever produce valid UTF-8; raw bytes beyond ASCII are checked.
        if high, !isValidUTF8(out) { return nil }
        return out
    }

    /// `text` as a quoted JSON string. Non-ASCII is written as UTF-8; only what must be is escaped.
    static func encode(_ text: [UInt8], into out: inout [UInt8]) {
        out.reserveCapacity(out.count + text.count + 2)
        out.append(0x22)
        text.withUnsafeBufferPointer { text in
            var i = 0
            var high = false
            while true {
                let run = i
                i = plainRun(text, from: i, high: &high)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: text[run..<i]))
                guard i < text.count else { break }
                let c = text[i]
                i += 1
                out.append(0x5C)
                switch c {
                case 0x22, 0x5C: out.append(c)
                case 0x0A: out.append(0x6E)
                case 0x0D: out.append(0x72)
                case 0x09: out.append(0x74)
                default:
                    let hex: StaticString = "0123456789abcdef"
                    out.append(0x75)
                    out.append(0x30)
                    out.append(0x30)
                    out.append(hex.utf8Start[Int(c >> 4)])
                    out.append(hex.utf8Start[Int(c & 15)])
                }
            }
        }
        out.append(0x22)
    }

    private static func hex4(_ raw: UnsafeBufferPointer<UInt8>, _ at: Int) -> Int? {
        var value = 0
        for k in 0..<4 {
            let c = raw.at(at + k)
            guard Byte.isHex(c) else { return nil }
            value = value << 4 | (Byte.isDigit(c) ? Int(c - 0x30) : Int((c | 0x20) - 0x61 + 10))
        }
        return value
    }

    private static func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80: out.append(UInt8(scalar))
        case 0x80..<0x800: out += [UInt8(0xC0 | scalar >> 6), UInt8(0x80 | scalar & 0x3F)]
        case 0x800..<0x10000:
            out += [UInt8(0xE0 | scalar >> 12), UInt8(0x80 | scalar >> 6 & 0x3F), UInt8(0x80 | scalar & 0x3F)]
        default:
            out += [UInt8(0xF0 | scalar >> 18), UInt8(0x80 | scalar >> 12 & 0x3F), UInt8(0x80 | scalar >> 6 & 0x3F),
                    UInt8(0x80 | scalar & 0x3F)]
        }
    }

    /// From `i`, the index of the first quote, backslash or control byte (what ends a run
    /// of plain string content), or `b.count`. `high` is set if a byte passed is not ASCII.
    @inline(__always) static func plainRun(_ b: UnsafeBufferPointer<UInt8>, from i: Int, high: inout Bool) -> Int {
        var unused = false
        return plainRun(b, from: i, high: &high, triggers: &unused)
    }

    /// `plainRun`, also setting `triggers` if a byte passed is an `EntityScanner.triggerCandidates`.
    @inline(__always) static func plainRun(_ b: UnsafeBufferPointer<UInt8>, from i: Int, high: inout Bool,
                                           triggers: inout Bool) -> Int {
        let n = b.count
        var j = i
        var highs = Lanes.Mask(repeating: false), marks = highs
        defer {
            high = high || Lanes.any(highs)
            triggers = triggers || Lanes.any(marks)
        }
        while j + 16 <= n {
            let v = Lanes.load(b, j)
            let stops = v .== Lanes.splat(0x22) .| v .== Lanes.splat(0x5C) .| v .< Lanes.splat(0x20)
            if Lanes.any(stops) {
                let k = Lanes.first(stops)
                let before = Lanes.before(k)
                highs = highs .| (before .& Lanes.nonASCII(v))
                marks = marks .| (before .& EntityScanner.triggerCandidates(v))
                return j + k
            }
            highs = highs .| Lanes.nonASCII(v)
            marks = marks .| EntityScanner.triggerCandidates(v)
            j += 16
        }
        while j < n {
            let c = b[j]
            if c == 0x22 || c == 0x5C || c < 0x20 { return j }
            if c >= 0x80 { high = true }
            if EntityScanner.classes[Int(c)] & EntityScanner.trigger != 0 { triggers = true }
            j += 1
        }
        return n
    }

    /// Finds where a string's content ends, and what it met on the way. A string cut by
    /// the end of a chunk goes on with the same scan in the next.
    struct Scan {
        var hasEscape = false
        /// Bytes beyond ASCII were seen: the UTF-8 is to be checked.
        var high = false
        /// Bytes that may begin a value were seen; without them no detector can match.
        var triggers = false
        /// The last chunk ended right after a backslash.
        var escaped = false

        var ascii: Bool { !high }

        /// The index of the closing quote or of a control byte from `start`, or `b.count`.
        /// Escapes are skipped here and checked when the string is decoded.
        mutating func end(_ b: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
            let n = b.count
            var j = start
            if escaped, j < n {
                escaped = false
                j += 1
            }
            while true {
                j = plainRun(b, from: j, high: &high, triggers: &triggers)
                guard j < n, b[j] == 0x5C else { return j }
                hasEscape = true
                escaped = j + 1 == n
                j += 2
                guard j < n else { return n }
            }
        }
    }

    static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer(Byte.isValidUTF8)
    }
}
