/// Records written straight into the batch's bytes, for the data path: no intermediate
/// Strings. The output is the same JSON that `AuditRecord` builds.
extension AuditBatch {
    /// `{"v":1,"ts":…,"kind":"…"`: the opening every record shares.
    public mutating func openRecord(kind: StaticString, at seconds: Double) {
        bytes.append(contentsOf: Self.versionPrefix)
        appendMillis(Int64((seconds * 1000).rounded(.down)))
        literal(",\"kind\":")
        quoted(kind)
    }

    public mutating func member(_ name: StaticString, _ value: String?) {
        guard var value else { return }
        key(name)
        value.withUTF8 { quoted($0) }
    }

    public mutating func member(_ name: StaticString, _ value: Substring) {
        var value = value
        key(name)
        value.withUTF8 { quoted($0) }
    }

    public mutating func member(_ name: StaticString, _ value: Int) {
        member(name, Int64(value))
    }

    public mutating func member(_ name: StaticString, _ value: Int64) {
        key(name)
        decimal(value)
    }

    /// A duration in milliseconds with microsecond precision, e.g. `5.145`.
    public mutating func member(_ name: StaticString, millisFromNanos nanos: Int64) {
        key(name)
        let micros = max(0, nanos / 1000)
        decimal(micros / 1000)
        bytes.append(UInt8(ascii: "."))
        threeDigits(Int(micros % 1000))
    }

    /// `"name":{"a":1,"b":2}` with the keys in the order given.
    public mutating func member(_ name: StaticString, counts: [(String, Int)]) {
        key(name)
        bytes.append(UInt8(ascii: "{"))
        for (i, (label, count)) in counts.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            var label = label
            label.withUTF8 { quoted($0) }
            bytes.append(UInt8(ascii: ":"))
            decimal(Int64(count))
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// Ends the object and the record.
    public mutating func closeObject() {
        bytes.append(UInt8(ascii: "}"))
        closeRecord()
    }

    private static let versionPrefix = Array("{\"v\":\(AuditRecord.version),\"ts\":".utf8)

    /// Names are this module's own identifiers, with nothing to escape: copied whole.
    private mutating func key(_ name: StaticString) {
        bytes.append(UInt8(ascii: ","))
        bytes.append(UInt8(ascii: "\""))
        literal(name)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    private mutating func literal(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private mutating func quoted(_ text: StaticString) {
        text.withUTF8Buffer { quoted($0) }
    }

    /// A JSON string: '"', '\' and control characters escaped, everything else as is. Runs
    /// of bytes that need no escape are copied whole (byte by byte, this was 5% of the CPU
    /// of an audited request).
    private mutating func quoted(_ utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        var clean = 0
        for index in utf8.indices {
            let byte = utf8[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[clean..<index]))
            clean = index + 1
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case UInt8(ascii: "\n"): literal("\\n")
            case UInt8(ascii: "\r"): literal("\\r")
            case UInt8(ascii: "\t"): literal("\\t")
            default:
                literal("\\u00")
                bytes.append(Self.hexDigit(byte >> 4))
                bytes.append(Self.hexDigit(byte & 0xF))
            }
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[clean...]))
        bytes.append(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    private mutating func appendMillis(_ millis: Int64) {
        decimal(millis / 1000)
        bytes.append(UInt8(ascii: "."))
        threeDigits(Int(millis % 1000))
    }

    /// Digits written in place, lowest first, then turned round: `String(value)` on the
    /// way was a tenth of an audit record's cost.
    private mutating func decimal(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var rest = value.magnitude
        let start = bytes.count
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        var low = start, high = bytes.count - 1
        while low < high {
            bytes.swapAt(low, high)
            low += 1
            high -= 1
        }
    }

    private mutating func threeDigits(_ n: Int) {
        bytes.append(UInt8(ascii: "0") + UInt8(n / 100))
        bytes.append(UInt8(ascii: "0") + UInt8(n / 10 % 10))
        bytes.append(UInt8(ascii: "0") + UInt8(n % 10))
    }
}
