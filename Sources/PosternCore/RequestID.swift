/// The id that ties a response, the request log and (later) the audit record together.
public enum RequestID {
    /// Accepts a caller's `x-request-id` when it is short and made of safe characters only,
    /// so it can be logged and echoed without escaping.
    public static func isAcceptable(_ value: String) -> Bool {
        let utf8 = value.utf8
        guard (1...128).contains(utf8.count) else { return false }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"):
                return true
            default:
                return false
            }
        }
    }

    /// 128 random bits from the system generator, as 32 lowercase hex digits.
    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        return hex(rng.next(), rng.next())
    }

    /// Two 64-bit values as 32 lowercase hex digits, without intermediate strings.
    static func hex(_ high: UInt64, _ low: UInt64) -> String {
        String(unsafeUninitializedCapacity: 32) { buffer in
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { digits in
                for index in 0..<16 {
                    let shift = UInt64(60 - 4 * index)
                    buffer[index] = digits[Int((high >> shift) & 0xF)]
                    buffer[16 + index] = digits[Int((low >> shift) & 0xF)]
                }
            }
            return 32
        }
    }

    /// The caller's id if acceptable, a fresh one otherwise.
    public static func resolve(_ incoming: String?) -> String {
        if let incoming, isAcceptable(incoming) { return incoming }
        return generate()
    }
}

/// Request ids for one event loop: a random 64-bit prefix drawn once and a counter, so ids
/// are unique across loops and restarts without a system call per request. They identify
/// requests; they are not secrets.
public final class RequestIDGenerator {
    private let prefix: UInt64
    private var counter: UInt64

    public init() {
        var rng = SystemRandomNumberGenerator()
        prefix = rng.next()
        counter = rng.next() >> 16
    }

    public func next() -> String {
        counter &+= 1
        return RequestID.hex(prefix, counter)
    }
}
