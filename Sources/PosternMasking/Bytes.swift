/// ASCII byte classes for the detectors, which work on UTF-8 bytes, never on Characters.
enum Byte {
    static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
    static func isUpper(_ b: UInt8) -> Bool { b &- 0x41 < 26 }
    static func isLower(_ b: UInt8) -> Bool { b &- 0x61 < 26 }
    static func isLetter(_ b: UInt8) -> Bool { isUpper(b) || isLower(b) }
    static func isAlnum(_ b: UInt8) -> Bool { isDigit(b) || isLetter(b) }
    static func isHex(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20) &- 0x61 < 6 }
    /// Letters, digits and `_`: what continues a word, so a match must not touch one.
    static func isWord(_ b: UInt8) -> Bool { isAlnum(b) || b == UInt8(ascii: "_") }
    static func digit(_ b: UInt8) -> Int { Int(b &- 0x30) }

    /// `body` with the UTF-8 bytes of `text`, if any.
    static func withUTF8<R>(of text: String?, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
        guard var text else { return body(nil) }
        return text.withUTF8 { body($0) }
    }

    /// Well-formed UTF-8 (no overlongs, surrogates or truncated sequences).
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < bytes.count, bytes[i] < 0x80 { i += 1 }  // the common case: ASCII
        if i == bytes.count { return true }
        var iterator = UnsafeBufferPointer(rebasing: bytes[i...]).makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}

/// Sixteen bytes at a time, for the loops that pass over plain text. Comparisons are made
/// against whole vectors (`Lanes.splat`): against a scalar, Swift does them lane by lane.
enum Lanes {
    typealias Bytes = SIMD16<UInt8>
    typealias Mask = SIMDMask<SIMD16<Int8>>

    @inline(__always) static func splat(_ byte: UInt8) -> Bytes { Bytes(repeating: byte) }

    @inline(__always) static func load(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bytes {
        UnsafeRawPointer(b.baseAddress! + i).loadUnaligned(as: Bytes.self)
    }

    /// Some lane of `mask` is set. (The standard `any` reduces lane by lane, in a call.)
    @inline(__always) static func any(_ mask: Mask) -> Bool {
        let halves = unsafeBitCast(unsafeBitCast(mask, to: SIMD16<Int8>.self), to: (UInt64, UInt64).self)
        return halves.0 | halves.1 != 0
    }

    /// The first lane set in `mask` (which has one).
    @inline(__always) static func first(_ mask: Mask) -> Int {
        let halves = unsafeBitCast(unsafeBitCast(mask, to: SIMD16<Int8>.self), to: (UInt64, UInt64).self)
        return halves.0 != 0 ? halves.0.trailingZeroBitCount >> 3 : 8 + halves.1.trailingZeroBitCount >> 3
    }

    /// The lanes before `k`.
    @inline(__always) static func before(_ k: Int) -> Mask {
        Bytes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) .< splat(UInt8(k))
    }

    /// Bytes of UTF-8 sequences (bit 7 set).
    @inline(__always) static func nonASCII(_ v: Bytes) -> Mask { v .>= splat(0x80) }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// The byte at `i`, or 0 outside the buffer (0 is in no class, so bounds read as a boundary).
    @inline(__always) func at(_ i: Int) -> UInt8 { i >= 0 && i < count ? self[i] : 0 }

    func hasPrefix(_ prefix: StaticString, at i: Int) -> Bool {
        let n = prefix.utf8CodeUnitCount
        guard i >= 0, i + n <= count else { return false }
        return prefix.withUTF8Buffer { p in
            for k in 0..<n where self[i + k] != p[k] { return false }
            return true
        }
    }
}
