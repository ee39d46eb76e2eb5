/// Masks newline-delimited JSON (`application/x-ndjson`, JSON Lines) as it streams, as
/// Ollama and some generate endpoints stream: each line is one JSON value, masked through
/// `EventTexts` so a text spread over lines (`message.content`, `response`) is held as one.
/// A line that is not JSON, or longer than `maxLineBytes`, fails the stream: nothing of an
/// unreadable line leaves.
public final class NDJSONMasker {
    public let policy: MaskingPolicy
    public let maxLineBytes: Int
    public var findings: [EntityKind: Int] { texts.findings }
    /// Lines no stream format describes, masked on their own.
    public var unmatchedEvents: Int { texts.unmatchedEvents }

    private let texts: EventTexts
    private var line: [UInt8] = []
    private var out: [UInt8] = []

    public init(policy: MaskingPolicy, maxLineBytes: Int = 4 << 20) {
        self.policy = policy
        self.maxLineBytes = maxLineBytes
        texts = EventTexts(policy: policy)
    }

    public func feed(_ chunk: [UInt8]) throws(MaskingError) -> [UInt8] {
        out.removeAll(keepingCapacity: true)
        var start = chunk.startIndex
        while let newline = chunk[start...].firstIndex(of: 0x0A) {
            line += chunk[start..<newline]
            try endLine()
            start = newline + 1
        }
        line += chunk[start...]
        guard line.count <= maxLineBytes else { throw MaskingError("an NDJSON line is longer than \(maxLineBytes) bytes") }
        return out
    }

    /// The stream ended: a last line without its newline is masked, held text released.
    public func finish() throws(MaskingError) -> [UInt8] {
        out.removeAll(keepingCapacity: true)
        if !line.isEmpty { try endLine() }
        write(texts.releaseAll())
        return out
    }

    private func endLine() throws(MaskingError) {
        defer { line.removeAll(keepingCapacity: true) }
        guard line.count <= maxLineBytes else { throw MaskingError("an NDJSON line is longer than \(maxLineBytes) bytes") }
        if line.last == 0x0D { line.removeLast() }
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
            out += line + [0x0A]  // blank lines carry nothing
            return
        }
        guard let node = JSONNode.parse(line) else { throw MaskingError("an NDJSON line is not JSON") }
        write(try texts.mask(node, fields: []))
    }

    private func write(_ events: [EventTexts.Event]) {
        for event in events { out += event.payload + [0x0A] }
    }
}
