/// Masks a `text/event-stream` as it streams. Events are parsed per the HTML spec (lines
/// ending in LF, CR or CRLF; `data` lines joined; comments, `event`, `id`, `retry` kept in
/// order). OpenAI-compatible chat and completion chunks are masked per choice: the text of
/// `delta.content` (and `text`, `delta.reasoning_content`, each tool call's
/// `function.arguments`) is treated as one stream, so an entity spread over several events
/// is caught, holding back only the tail that could still become one. Other JSON strings
/// in an event are masked where they stand; non-JSON data is masked as text.
public final class SSEMasker {
    public let policy: MaskingPolicy
    public let maxEventBytes: Int
    public private(set) var findings: [EntityKind: Int] = [:]

    private var line: [UInt8] = []
    private var lastWasCR = false
    /// The current event's lines, as received (for everything but data).
    private var fields: [[UInt8]] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var eventBytes = 0
    private var streams: [String: HeldText] = [:]
    /// The last JSON chunk seen, as a template for a closing event that releases held text.
    private var lastChunk: JSONNode?
    private var out: [UInt8] = []

    private static let done = Array("[DONE]".utf8)

    public init(policy: MaskingPolicy, maxEventBytes: Int = 4 << 20) {
        self.policy = policy
        self.maxEventBytes = maxEventBytes
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
        if hasData || !fields.isEmpty { dispatch() }
        releaseAll()
        return out
    }

    private func endLine() throws(MaskingError) {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            dispatch()
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

    private func dispatch() {
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
        if data == Self.done { releaseAll() }
        for field in fields { out += field + [0x0A] }
        let payload = maskedPayload()
        // Multi-line data goes back as several data lines.
        for part in payload.split(separator: 0x0A, omittingEmptySubsequences: false) {
            out += Array("data: ".utf8) + part + [0x0A]
        }
        out.append(0x0A)
    }

    private func maskedPayload() -> [UInt8] {
        if data == Self.done { return data }
        guard var node = JSONNode.parse(data) else {
            return data.withUnsafeBufferPointer { text in
                guard let masked = policy.mask(text) else { return data }
                for kind in masked.kinds { findings[kind, default: 0] += 1 }
                return masked.bytes
            }
        }
        if case .array(let choices)? = node["choices"] {
            var rewritten: [JSONNode] = []
            for (position, choice) in choices.enumerated() {
                rewritten.append(maskChoice(choice, position: position))
            }
            node["choices"] = .array(rewritten)
            lastChunk = node
        }
        var written: [UInt8] = []
        // Streamed fields were masked above (`.masked`); every other string is masked here.
        maskStrings(node).write(into: &written)
        return written
    }

    /// One choice: its streamed texts go through their held streams; when the choice
    /// finishes, whatever its streams still hold is released into this event.
    private func maskChoice(_ choice: JSONNode, position: Int) -> JSONNode {
        var choice = choice
        let index: String
        if case .number(let n)? = choice["index"] { index = String(decoding: n, as: UTF8.self) } else { index = "#\(position)" }
        let finished = choice["finish_reason"].map { $0 != .null } ?? false
        if case .string(let text)? = choice["text"] {
            choice["text"] = .masked(stream("\(index).text", text, final: finished))
        }
        if var delta = choice["delta"] {
            for key in ["content", "reasoning_content"] {
                if case .string(let text)? = delta[key] {
                    delta[key] = .masked(stream("\(index).\(key)", text, final: finished))
                } else if finished, let held = flushed("\(index).\(key)") {
                    delta[key] = .masked(held)
                }
            }
            if case .array(let calls)? = delta["tool_calls"] {
                delta["tool_calls"] = .array(calls.enumerated().map { position, call in
                    var call = call
                    let callIndex: String
                    if case .number(let n)? = call["index"] { callIndex = String(decoding: n, as: UTF8.self) } else {
                        callIndex = "#\(position)"
                    }
                    if var function = call["function"], case .string(let text)? = function["arguments"] {
                        function["arguments"] = .masked(stream("\(index).tool\(callIndex)", text, final: finished))
                        call["function"] = function
                    }
                    return call
                })
            }
            choice["delta"] = delta
        }
        if finished {
            // Tool-call arguments still held when the choice ends: released masked with it.
            for key in streams.keys.sorted() where key.hasPrefix("\(index).tool") {
                if let held = flushed(key), !held.isEmpty {
                    var delta = choice["delta"] ?? .object([])
                    let call: JSONNode = .object([("index", .number(Array(key.dropFirst("\(index).tool".count).utf8))),
                                                   ("function", .object([("arguments", .masked(held))]))])
                    delta["tool_calls"] = .array([call])
                    choice["delta"] = delta
                }
            }
        }
        return choice
    }

    private func stream(_ key: String, _ text: [UInt8], final: Bool) -> [UInt8] {
        var held = streams[key] ?? HeldText()
        var released = held.append(text, policy: policy, findings: &findings)
        if final { released += held.flush(policy: policy, findings: &findings) }
        streams[key] = final ? nil : held
        return released
    }

    private func flushed(_ key: String) -> [UInt8]? {
        guard var held = streams.removeValue(forKey: key) else { return nil }
        let text = held.flush(policy: policy, findings: &findings)
        return text.isEmpty ? nil : text
    }

    /// Held text of streams that never saw their choice finish, released in one last
    /// chunk shaped like the previous ones (before `[DONE]`, or at the end of the stream).
    private func releaseAll() {
        guard !streams.isEmpty else { return }
        var choices: [JSONNode] = []
        for key in streams.keys.sorted() {
            guard let text = flushed(key) else { continue }
            let parts = key.split(separator: ".", maxSplits: 1)
            let index = parts[0].hasPrefix("#") ? "0" : String(parts[0])
            let field = String(parts[1])
            var choice: JSONNode = .object([("index", .number(Array(index.utf8)))])
            if field == "text" {
                choice["text"] = .masked(text)
            } else if field.hasPrefix("tool") {
                let call: JSONNode = .object([("index", .number(Array(field.dropFirst(4).replacingHash().utf8))),
                                               ("function", .object([("arguments", .masked(text))]))])
                choice["delta"] = .object([("tool_calls", .array([call]))])
            } else {
                choice["delta"] = .object([(field, .masked(text))])
            }
            choices.append(choice)
        }
        streams.removeAll()
        guard !choices.isEmpty else { return }
        var chunk = lastChunk ?? .object([])
        chunk["choices"] = .array(choices)
        var written: [UInt8] = []
        chunk.write(into: &written)
        out += Array("data: ".utf8) + written + [0x0A, 0x0A]
    }

    /// Every string in `node` masked where it stands.
    private func maskStrings(_ node: JSONNode, key: String? = nil) -> JSONNode {
        switch node {
        case .object(let members):
            return .object(members.map { name, value in (name, maskStrings(value, key: name)) })
        case .array(let items):
            return .array(items.map { maskStrings($0, key: key) })
        case .string(let text):
            return text.withUnsafeBufferPointer { buffer in
                guard let masked = policy.mask(buffer, keyHint: key) else { return node }
                for kind in masked.kinds { findings[kind, default: 0] += 1 }
                return .string(masked.bytes)
            }
        default:
            return node
        }
    }
}

extension Substring {
    fileprivate func replacingHash() -> String { hasPrefix("#") ? String(dropFirst()) : String(self) }
}
