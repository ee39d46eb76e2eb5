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
        return hex(rng.next() as UInt64) + hex(rng.next() as UInt64)
    }

    /// The caller's id if acceptable, a fresh one otherwise.
    public static func resolve(_ incoming: String?) -> String {
        if let incoming, isAcceptable(incoming) { return incoming }
        return generate()
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
