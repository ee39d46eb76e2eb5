/// What a rule may look at beyond the caller and the operation: when, from where, and the
/// request's header values.
public struct RequestContext {
    /// Seconds since the epoch (injectable: tests pass their own clock).
    public var time: Int64
    /// The peer's address from the socket: 4 bytes (IPv4) or 16 (IPv6).
    public var source: [UInt8]?
    public var headers: any HeaderLookup

    public init(time: Int64, source: [UInt8]? = nil, headers: any HeaderLookup = NoHeaders()) {
        self.time = time
        self.source = source
        self.headers = headers
    }
}

/// Header values by lowercase name, as the data path has them.
public protocol HeaderLookup {
    func value(of name: String) -> String?
}

public struct NoHeaders: HeaderLookup {
    public init() {}
    public func value(of name: String) -> String? { nil }
}

/// Days of the week and a time of day, at a fixed offset from UTC or in a named time zone
/// (`22:00-06:00` wraps past midnight; the day is the local day the request arrives on).
public struct TimeWindow: Sendable, Equatable {
    /// 0 is Sunday.
    public var days: Set<Int>
    /// Minutes after local midnight, `from` inclusive, `to` exclusive.
    public var from: Int
    public var to: Int
    public var utcOffsetMinutes: Int
    /// When set, the offset at the request's time, daylight saving included.
    public var zone: ZoneOffsets?

    public init(days: Set<Int> = Set(0...6), from: Int = 0, to: Int = 1440, utcOffsetMinutes: Int = 0,
                zone: ZoneOffsets? = nil) {
        self.days = days
        self.from = from
        self.to = to
        self.utcOffsetMinutes = utcOffsetMinutes
        self.zone = zone
    }

    public func contains(_ time: Int64) -> Bool {
        let local = time + (zone.map { Int64($0.offset(at: time)) } ?? Int64(utcOffsetMinutes) * 60)
        let day = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let minute = Int((local - day * 86_400) / 60)
        let weekday = Int(((day + 4) % 7 + 7) % 7)  // 1970-01-01 was a Thursday
        guard days.contains(weekday) else { return false }
        return from <= to ? (minute >= from && minute < to) : (minute >= from || minute < to)
    }
}

/// An address range, `10.0.0.0/8` or `fd00::/8`, as bytes and a prefix length.
public struct AddressRange: Sendable, Equatable {
    public var network: [UInt8]
    public var prefixLength: Int

    public init?(network: [UInt8], prefixLength: Int) {
        guard network.count == 4 || network.count == 16, (0...network.count * 8).contains(prefixLength) else { return nil }
        self.network = network
        self.prefixLength = prefixLength
    }

    public func contains(_ address: [UInt8]) -> Bool {
        guard address.count == network.count else { return false }
        var bits = prefixLength
        for (a, n) in zip(address, network) where bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if a & mask != n & mask { return false }
            bits -= 8
        }
        return true
    }
}
