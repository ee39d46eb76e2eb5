/// The protobuf wire format's primitives, reading from a buffer with every length checked:
/// a truncated or malformed message is an error, never a read out of bounds.
enum ProtoWire {
    static let varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5

    static func truncated(_ what: String) -> MaskingError { MaskingError("truncated or malformed protobuf (\(what))") }

    /// Reads a varint at `i` (at most 10 bytes), moving `i` past it.
    static func readVarint(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int, end: Int) throws(MaskingError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while i < end {
            let byte = buf[i]
            i += 1
            if shift == 63, byte > 1 { throw truncated("varint overflows 64 bits") }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
            if shift > 63 { throw truncated("varint longer than 10 bytes") }
        }
        throw truncated("varint runs past the end")
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Moves `i` past a field's value of `wireType` (a group up to and including its end
    /// tag); returns where the group's content ends, or `i` for other types.
    @discardableResult
    static func skip(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int, end: Int, wireType: Int, number: Int,
                     depth: Int) throws(MaskingError) -> Int {
        switch wireType {
        case varint:
            _ = try readVarint(buf, &i, end: end)
        case fixed64, fixed32:
            let size = wireType == fixed64 ? 8 : 4
            guard end - i >= size else { throw truncated("fixed-width value runs past the end") }
            i += size
        case lengthDelimited:
            let length = try readVarint(buf, &i, end: end)
            guard length <= UInt64(end - i) else { throw truncated("length runs past the end") }
            i += Int(length)
        case startGroup:
            guard depth < ProtobufMasker.maxDepth else { throw MaskingError("protobuf nested too deeply") }
            while true {
                let tagStart = i
                let (inner, innerWire) = try readTag(buf, &i, end: end)
                if innerWire == endGroup {
                    guard inner == number else { throw truncated("group ends with the wrong field number") }
                    return tagStart
                }
                try skip(buf, &i, end: end, wireType: innerWire, number: inner, depth: depth + 1)
            }
        default:
            throw truncated("wire type \(wireType)")
        }
        return i
    }

    /// Calls `body` with each field in `range` (not descending): its number, wire type, and
    /// where its value lies (a length-delimited field's content, without the length).
    static func forEachField(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                             _ body: (Int, Int, Range<Int>) throws(MaskingError) -> Void) throws(MaskingError) {
        var i = range.lowerBound
        while i < range.upperBound {
            let (number, wire) = try readTag(buf, &i, end: range.upperBound)
            var start = i
            try skip(buf, &i, end: range.upperBound, wireType: wire, number: number, depth: 0)
            if wire == lengthDelimited { _ = try readVarint(buf, &start, end: i) }
            try body(number, wire, start..<i)
        }
    }

    static func text(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: buf[range]), as: UTF8.self)
    }

    /// A field's number and wire type.
    static func readTag(_ buf: UnsafeBufferPointer<UInt8>, _ i: inout Int, end: Int) throws(MaskingError) -> (Int, Int) {
        let tag = try readVarint(buf, &i, end: end)
        let number = tag >> 3
        guard number >= 1, number < 1 << 29 else { throw truncated("field number \(number)") }
        return (Int(number), Int(tag & 7))
    }
}
