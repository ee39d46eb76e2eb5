#if canImport(Glibc)
import Glibc
#endif

/// A hash table keyed by byte strings, for the decision's lookups: the caller hashes a key
/// once (FNV-1a, extendable byte by byte, so every ancestor of a SPIFFE ID is hashed in one
/// pass over it) and probes with that hash; no `Hasher`, no `String` built per lookup.
/// Built once at load, read-only afterwards.
struct ByteKeyTable<Value: Sendable>: Sendable {
    private struct Entry: Sendable {
        var hash: UInt64
        var key: [UInt8]
        var values: [Value]
    }

    private var entries: [Entry] = []
    /// Open addressing with linear probing: an index into `entries`, or -1.
    private var slots: [Int32] = [-1, -1, -1, -1]

    static var seed: UInt64 { 0xcbf2_9ce4_8422_2325 }

    @inline(__always)
    static func extend(_ hash: UInt64, _ byte: UInt8) -> UInt64 { (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }

    static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 { bytes.reduce(seed, extend) }

    static func hash(_ text: String) -> UInt64 {
        var text = text
        return text.withUTF8 { hash($0) }
    }

    var isEmpty: Bool { entries.isEmpty }

    mutating func add(_ key: [UInt8], _ value: Value) {
        let hash = Self.hash(key)
        if let index = find(hash, { $0 == key }) {
            entries[index].values.append(value)
            return
        }
        entries.append(Entry(hash: hash, key: key, values: [value]))
        if entries.count * 2 > slots.count {
            slots = [Int32](repeating: -1, count: slots.count * 2)
            for (index, entry) in entries.enumerated() { place(entry.hash, Int32(index)) }
        } else {
            place(hash, Int32(entries.count - 1))
        }
    }

    mutating func add(_ key: String, _ value: Value) { add(Array(key.utf8), value) }

    private mutating func place(_ hash: UInt64, _ index: Int32) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = index
    }

    private func find(_ hash: UInt64, _ equals: ([UInt8]) -> Bool) -> Int? {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let index = Int(slots[slot])
            if index < 0 { return nil }
            if entries[index].hash == hash, equals(entries[index].key) { return index }
            slot = (slot + 1) & mask
        }
    }

    /// Calls `body` with each value filed under the key whose bytes are `key` and hash `hash`.
    @inline(__always)
    func forEach(_ hash: UInt64, _ key: UnsafeBufferPointer<UInt8>, _ body: (Value) -> Void) {
        guard !entries.isEmpty, let index = find(hash, { Self.equal($0, key) }) else { return }
        entries[index].values.forEach(body)
    }

    /// The same for a key given as text, already hashed (`HashedName`).
    func forEach(_ name: HashedName, _ body: (Value) -> Void) {
        guard !entries.isEmpty else { return }
        var text = name.text
        guard let index = find(name.hash, { stored in text.withUTF8 { Self.equal(stored, $0) } }) else { return }
        entries[index].values.forEach(body)
    }

    @inline(__always)
    private static func equal(_ stored: [UInt8], _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        guard stored.count == key.count else { return false }
        guard let theirs = key.baseAddress else { return true }
        return stored.withUnsafeBufferPointer { memcmp($0.baseAddress!, theirs, key.count) == 0 }
    }
}

/// A name hashed once per decision, looked up in several tables.
struct HashedName {
    let text: String
    let hash: UInt64
    init(_ text: String) {
        self.text = text
        self.hash = ByteKeyTable<Int>.hash(text)
    }
}
