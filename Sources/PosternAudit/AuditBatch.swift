/// Records encoded by the data path, one JSON object each (no index, no newline), handed
/// to the log together so a whole batch costs one lock and one write.
public struct AuditBatch: Sendable {
    public var bytes: [UInt8] = []
    public private(set) var ends: [Int] = []

    public init() {}

    public var isEmpty: Bool { ends.isEmpty }
    public var count: Int { ends.count }

    /// Marks the bytes appended since the last record as one record.
    public mutating func closeRecord() { ends.append(bytes.count) }

    public mutating func add(_ record: some Sequence<UInt8>) {
        bytes.append(contentsOf: record)
        closeRecord()
    }

    public mutating func append(contentsOf other: AuditBatch) {
        let base = bytes.count
        bytes.append(contentsOf: other.bytes)
        ends.append(contentsOf: other.ends.map { $0 + base })
    }

    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
    }

    /// Each record's bytes, in order.
    func forEach(_ body: (ArraySlice<UInt8>) -> Void) {
        var start = 0
        for end in ends {
            body(bytes[start..<end])
            start = end
        }
    }
}
