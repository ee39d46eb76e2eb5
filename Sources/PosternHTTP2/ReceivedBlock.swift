import PosternCore

/// The header block being received; blocks of different streams never interleave.
///
/// One value, changed by one mutating call per nghttp2 callback: as four properties of the
/// session, each field cost three or four dynamic exclusivity checks (measured under callgrind).
struct ReceivedBlock {
    private(set) var pseudo = PseudoHeaders()
    private(set) var fields: [HeaderField] = []
    /// RFC 9113 §6.5.2 counts 32 bytes of overhead per field.
    private var bytes = 0
    /// Over the header list limit: `fields` is incomplete and the stream gets 431.
    private(set) var oversized = false

    mutating func begin() {
        self = ReceivedBlock()
        fields.reserveCapacity(16)
    }

    /// Adds a field; false when the block is so far over `limit` (an HPACK bomb: a few bytes
    /// that decode to megabytes) that decoding must stop and the connection end, so the cost
    /// stays with the sender rather than the loop's other callers.
    mutating func add(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>, limit: Int) -> Bool {
        bytes += name.count + value.count + 32
        if bytes > limit {
            oversized = true
            return bytes <= 4 * limit
        }
        let text = String(decoding: value, as: UTF8.self)
        if name.first == UInt8(ascii: ":"), pseudo.take(name, text) { return true }
        fields.append(HeaderField(String(decoding: name, as: UTF8.self), text))
        return true
    }

    /// The fields so far, leaving the block empty (its storage goes with them).
    mutating func takeFields() -> [HeaderField] {
        defer { fields = [] }
        return fields
    }
}
