/// Masks a `text/event-stream` as it streams. Events are parsed per the HTML spec (lines
/// ending in LF, CR or CRLF; `data` lines joined; comments, `event`, `id`, `retry` kept in
/// order). The JSON of each event goes through `EventTexts`, which keeps the texts that
/// span events (OpenAI chat choices, the formats of the policy's table) as held streams;
/// data that is not JSON is masked as text where it stands.
public final class SSEMasker {
    public let policy: MaskingPolicy
    public let maxEventBytes: Int
    public var findings: [EntityKind: Int] { texts.findings }
    /// Events no stream format describes, masked on their own.
    public var unmatchedEvents: Int { texts.unmatchedEvents }

    private var line: [UInt8] = []
    private var lastWasCR = false
    /// The current event's lines, as received (for everything but data).
    private var fields: [[UInt8]] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var eventBytes = 0
    private let texts: EventTexts
    private var out: [UInt8] = []

    private static let done = Array("[DONE]".utf8)

    public init(policy: MaskingPolicy, maxEventBytes: Int = 4 << 20) {
        self.policy = policy
        self.maxEventBytes = maxEventBytes
        texts = EventTexts(policy: policy)
    }

    public func feed(_ chunk: [UInt8]) throws(MaskingError) -> [UInt8] {
        out.removeAll(keepingCapacity: true)
        for byte in chunk {
            if byte == 0x0A, lastWasCR {
                lastWasCR = false
                continue  // the LF of a CRLF
            }
            lastWasCR = byte == 0x0D
            if byte == 0x0A || byte == 0x0D {
                try endLine()
            } else {
                line.append(byte)
                eventBytes += 1
                guard eventBytes <= maxEventBytes else { throw MaskingError("an SSE event is longer than \(maxEventBytes) bytes") }
            }
        }
        return out
    }

    /// The stream ended: a last unterminated event is dispatched, held text is released.
    public func finish() throws(MaskingError) -> [UInt8] {
        out.removeAll(keepingCapacity: true)
        if !line.isEmpty { try endLine() }
        if hasData || !fields.isEmpty { try dispatch() }
        write(texts.releaseAll())
        return out
    }

    private func endLine() throws(MaskingError) {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            try dispatch()
            return
        }
        if line.starts(with: Array("data".utf8)), line.count == 4 || line[4] == 0x3A {
            var value = line.count > 4 ? Array(line[5...]) : []
            if value.first == 0x20 { value.removeFirst() }
            if hasData { data.append(0x0A) }
            data += value
            hasData = true
        } else {
            fields.append(line)  // comments, event, id, retry, unknown fields: kept as they are
        }
    }

    private func dispatch() throws(MaskingError) {
        defer {
            fields.removeAll()
            data.removeAll(keepingCapacity: true)
            hasData = false
            eventBytes = 0
        }
        guard hasData else {
            // An event without data is not dispatched by clients; keep its lines anyway.
            for field in fields { out += field + [0x0A] }
            if !fields.isEmpty { out.append(0x0A) }
            return
        }
        if data == Self.done {
            write(texts.releaseAll())
            write([EventTexts.Event(fields: fields, payload: data)])
        } else if let node = JSONNode.parse(data) {
            write(try texts.mask(node, fields: fields))
        } else if data.allSatisfy({ $0 == 0x20 || $0 == 0x0A }) {
            write([EventTexts.Event(fields: fields, payload: data)])  // a keep-alive: nothing to mask
        } else {
            try texts.unmatched("a data line that is not JSON")
            write([EventTexts.Event(fields: fields, payload: maskedText(data))])
        }
    }

    private func maskedText(_ data: [UInt8]) -> [UInt8] {
        data.withUnsafeBufferPointer { text in
            guard let masked = policy.mask(text) else { return data }
            for kind in masked.kinds { texts.findings[kind, default: 0] += 1 }
            return masked.bytes
        }
    }

    private func write(_ events: [EventTexts.Event]) {
        for event in events {
            for field in event.fields { out += field + [0x0A] }
            // Multi-line data goes back as several data lines.
            for part in event.payload.split(separator: 0x0A, omittingEmptySubsequences: false) {
                out += Array("data: ".utf8) + part + [0x0A]
            }
            out.append(0x0A)
        }
    }
}
