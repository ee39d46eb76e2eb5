/// A named time zone's UTC offsets over time, read from a TZif file (RFC 8536, the tzdata
/// files under /usr/share/zoneinfo), so a rule's hours follow daylight saving time.
/// Transitions come from the file's 64-bit data; after its last one (2037 in tzdata's
/// "fat" files) the last offset holds.
public struct ZoneOffsets: Sendable, Equatable {
    public let name: String
    /// Seconds since the epoch at which `offsets[i]` starts, ascending.
    let transitions: [Int64]
    let offsets: [Int32]
    /// Before the first transition.
    let initial: Int32

    /// Parses a TZif file of version 2 or later; nil when it is not one.
    public init?(name: String, tzif bytes: [UInt8]) {
        var reader = Reader(bytes: bytes)
        guard let v1 = reader.header(), v1.version >= 2, reader.skip(v1.dataLength(timeSize: 4)),
              let v2 = reader.header(), let times = reader.integers(v2.timeCount, size: 8),
              let indices = reader.integers(v2.timeCount, size: 1), v2.typeCount > 0 else { return nil }
        var types: [Int32] = []
        var standard: Int32?
        for _ in 0..<v2.typeCount {
            guard let offset = reader.integers(1, size: 4)?.first, let flags = reader.integers(2, size: 1) else { return nil }
            types.append(Int32(truncatingIfNeeded: offset))
            if standard == nil, flags[0] == 0 { standard = Int32(truncatingIfNeeded: offset) }
        }
        guard indices.allSatisfy({ $0 >= 0 && $0 < Int64(types.count) }), zip(times, times.dropFirst()).allSatisfy({ $0 < $1 })
        else { return nil }
        self.name = name
        self.transitions = times
        self.offsets = indices.map { types[Int($0)] }
        self.initial = standard ?? types[0]
    }

    /// The offset from UTC, in seconds, at `time`.
    public func offset(at time: Int64) -> Int {
        var low = 0, high = transitions.count
        while low < high {  // the first transition after `time`
            let middle = (low + high) / 2
            if transitions[middle] <= time { low = middle + 1 } else { high = middle }
        }
        return Int(low == 0 ? initial : offsets[low - 1])
    }

    private struct Header {
        var version: Int
        var isUTCount, isStdCount, leapCount, timeCount, typeCount, charCount: Int
        func dataLength(timeSize: Int) -> Int {
            timeCount * timeSize + timeCount + typeCount * 6 + charCount + leapCount * (timeSize + 4) + isStdCount + isUTCount
        }
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        mutating func skip(_ count: Int) -> Bool {
            guard count >= 0, bytes.count - index >= count else { return false }
            index += count
            return true
        }

        /// `count` big-endian integers of `size` bytes (signed but for the one-byte ones).
        mutating func integers(_ count: Int, size: Int) -> [Int64]? {
            guard count >= 0, bytes.count - index >= count * size else { return nil }
            var values: [Int64] = []
            values.reserveCapacity(count)
            for _ in 0..<count {
                var value: Int64 = bytes[index] & 0x80 != 0 && size > 1 && size < 8 ? -1 : 0
                for byte in bytes[index..<index + size] { value = value << 8 | Int64(byte) }
                values.append(value)
                index += size
            }
            return values
        }

        mutating func header() -> Header? {
            guard bytes.count - index >= 44, bytes[index..<index + 4].elementsEqual("TZif".utf8) else { return nil }
            let version = bytes[index + 4] == 0 ? 1 : Int(bytes[index + 4]) - 0x30
            index += 20
            guard let counts = integers(6, size: 4), counts.allSatisfy({ $0 >= 0 && $0 < 1 << 20 }) else { return nil }
            return Header(version: version, isUTCount: Int(counts[0]), isStdCount: Int(counts[1]), leapCount: Int(counts[2]),
                          timeCount: Int(counts[3]), typeCount: Int(counts[4]), charCount: Int(counts[5]))
        }
    }
}
