/// A map from HTTP/2 stream ids to what a connection keeps per stream.
///
/// A Dictionary hashes each id with SipHash: some 26 lookups per proxied request, 4% of its
/// instructions. Stream ids of one side rise by two, so `id / 2` modulo a power of two spreads
/// the streams open at once over distinct slots with no hashing at all. Open addressing with
/// linear probing; removal shifts the entries behind back, so no tombstones pile up.
/// Inlinable, so the connections in PosternProxy get it specialised for their stream types.
public struct StreamMap<Value> {
    /// Stream ids are 31-bit and never negative: -1 marks a free slot.
    @usableFromInline static var free: Int32 { -1 }
    @usableFromInline var keys: [Int32] = []
    @usableFromInline var slots: [Value?] = []
    @usableFromInline var stored = 0
    @inlinable public var count: Int { stored }

    @inlinable public init() {}

    @inlinable public var isEmpty: Bool { count == 0 }

    /// The values, in no particular order.
    @inlinable public var values: [Value] { slots.compactMap { $0 } }

    @inlinable public subscript(id: Int32) -> Value? {
        get { index(of: id).flatMap { slots[$0] } }
        set {
            if let newValue { insert(newValue, for: id) } else { removeValue(forKey: id) }
        }
    }

    @inlinable public subscript(id: Int32, default value: @autoclosure () -> Value) -> Value {
        get { self[id] ?? value() }
        set { insert(newValue, for: id) }
    }

    @inlinable @discardableResult
    public mutating func removeValue(forKey id: Int32) -> Value? {
        guard var hole = index(of: id) else { return nil }
        let removed = slots[hole]
        // Backward shift: an entry further along moves into the hole unless its home slot
        // lies cyclically after the hole (then it is already reachable from there).
        let mask = keys.count - 1
        var next = (hole + 1) & mask
        while keys[next] != Self.free {
            let home = slot(of: keys[next])
            let reachable = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next)
            if !reachable {
                keys[hole] = keys[next]
                slots[hole] = slots[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        keys[hole] = Self.free
        slots[hole] = nil
        stored -= 1
        return removed
    }

    @inlinable public mutating func removeAll() {
        self = StreamMap()
    }

    @inlinable func slot(of id: Int32) -> Int {
        Int(UInt32(bitPattern: id) >> 1) & (keys.count - 1)
    }

    @inlinable func index(of id: Int32) -> Int? {
        guard count > 0, id >= 0 else { return nil }
        let mask = keys.count - 1
        var at = slot(of: id)
        while keys[at] != Self.free {
            if keys[at] == id { return at }
            at = (at + 1) & mask
        }
        return nil
    }

    @inlinable mutating func insert(_ value: Value, for id: Int32) {
        precondition(id >= 0, "stream ids are never negative")
        if let at = index(of: id) {
            slots[at] = value
            return
        }
        if (count + 1) * 4 > keys.count * 3 { grow() }
        let mask = keys.count - 1
        var at = slot(of: id)
        while keys[at] != Self.free { at = (at + 1) & mask }
        keys[at] = id
        slots[at] = value
        stored += 1
    }

    @inlinable mutating func grow() {
        let old = zip(keys, slots)
        let capacity = max(16, keys.count * 2)
        keys = Array(repeating: Self.free, count: capacity)
        slots = Array(repeating: nil, count: capacity)
        stored = 0
        for (id, value) in old where id != Self.free {
            if let value { insert(value, for: id) }
        }
    }
}
