/// Masks the JSON events of one streamed answer (SSE events or NDJSON lines), keeping each
/// text that arrives over several events as one held stream: OpenAI chat choices, and every
/// text a `StreamFormat` of the policy describes. Only the tail that could still become an
/// entity is held; what a text still holds when it ends (or the stream does) is released,
/// masked, in an event shaped like the last one that carried it. Every other string is
/// masked where it stands.
final class EventTexts {
    /// An event to send: its SSE field lines (`event: ...`) and its masked JSON.
    struct Event {
        var fields: [[UInt8]]
        var payload: [UInt8]
    }

    /// One text of a described format, with the event that last carried a piece of it.
    struct Held {
        var format: Int
        var rule: Int
        /// The text's values at each of its format's key paths.
        var key: [[UInt8]?]
        var text = HeldText()
        var template: JSONNode
        var fields: [[UInt8]]
    }

    static let maxOpenTexts = 256

    let policy: MaskingPolicy
    var findings: [EntityKind: Int] = [:]
    /// Events no format describes, masked on their own (`unknown_streams: per_event`).
    private(set) var unmatchedEvents = 0
    private let keyPaths: [[[String]]]
    private var held: [Held] = []
    /// OpenAI chat: choice texts by "choice.field", and the last chunk as a template.
    var chatTexts: [String: HeldText] = [:]
    var lastChunk: JSONNode?

    init(policy: MaskingPolicy) {
        self.policy = policy
        keyPaths = policy.streamFormats.map(\.keyPaths)
    }

    /// The events to send for `event`: releases of texts it ends, then itself.
    func mask(_ event: JSONNode, fields: [[UInt8]]) throws(MaskingError) -> [Event] {
        // Which member a name means decides which text is held: with a name twice, Postern
        // (the first) and a client (often the last) would read different texts.
        guard !event.hasRepeatedMember else { throw MaskingError("an event names a member twice in one object") }
        if case .array? = event["choices"] { return maskChat(event, fields: fields) }
        guard let format = policy.streamFormats.firstIndex(where: { f in f.recognise.allSatisfy { $0.holds(in: event) } }) else {
            try unmatched("a JSON event")
            return [Event(fields: fields, payload: written(maskStrings(event)))]
        }
        let description = policy.streamFormats[format]
        let paths = keyPaths[format]
        let keyOfEvent = paths.map { event[path: $0]?.scalarText }
        let ends = description.ends.filter { end in end.when.allSatisfy { $0.holds(in: event) } }
        let templateFields = fields.filter { $0.starts(with: Array("event:".utf8)) }
        var node = event
        var carried: [Int] = []
        for (rule, text) in description.texts.enumerated() where text.when.allSatisfy({ $0.holds(in: event) }) {
            guard case .string(let piece)? = event[path: text.path] else { continue }
            // Only the rule's own key paths tell its texts apart; the others are remembered for ends.
            let index: Int
            if let found = held.firstIndex(where: { $0.format == format && $0.rule == rule && matches($0.key, keyOfEvent, text.key, paths) }) {
                index = found
            } else {
                guard held.count < Self.maxOpenTexts else {
                    throw MaskingError("a stream holds more than \(Self.maxOpenTexts) texts open at once")
                }
                held.append(Held(format: format, rule: rule, key: keyOfEvent, template: event, fields: templateFields))
                index = held.count - 1
            }
            held[index].template = event
            held[index].fields = templateFields
            var released = held[index].text.append(piece, policy: policy, findings: &findings)
            if ends.contains(where: { matches(held[index].key, keyOfEvent, $0.key, paths) }) {
                released += held[index].text.flush(policy: policy, findings: &findings)
            }
            node[path: text.path] = .masked(released)
            carried.append(index)
        }
        var out: [Event] = []
        var ended: [Int] = []
        for (index, text) in held.enumerated() where text.format == format {
            guard ends.contains(where: { matches(text.key, keyOfEvent, $0.key, paths) }) else { continue }
            ended.append(index)
            if !carried.contains(index), let release = release(index) { out.append(release) }
        }
        for index in ended.reversed() { held.remove(at: index) }
        out.append(Event(fields: fields, payload: written(maskStrings(node))))
        return out
    }

    /// Data that is not JSON (masked as text where it stands), or counted as unmatched.
    func unmatched(_ what: String) throws(MaskingError) {
        if policy.unknownStreams == .refuse {
            throw MaskingError("\(what) of a stream no stream format describes (masking policy '\(policy.name)' refuses those)")
        }
        unmatchedEvents += 1
    }

    /// Everything every text still holds, released in events of their own (before `[DONE]`,
    /// or at the end of the stream).
    func releaseAll() -> [Event] {
        var out = releaseChat()
        for index in held.indices { if let release = release(index) { out.append(release) } }
        held.removeAll()
        return out
    }

    /// Whether texts keyed `a` and `b` agree at every path of `names`.
    private func matches(_ a: [[UInt8]?], _ b: [[UInt8]?], _ names: [[String]], _ paths: [[String]]) -> Bool {
        names.allSatisfy { name in
            guard let at = paths.firstIndex(of: name) else { return true }
            return a[at] == b[at]
        }
    }

    /// What held text `index` still holds, in a copy of the last event that carried it
    /// (its other streamed texts emptied, so nothing is sent twice); nil when it held nothing.
    private func release(_ index: Int) -> Event? {
        let text = held[index].text.flush(policy: policy, findings: &findings)
        guard !text.isEmpty else { return nil }
        let format = policy.streamFormats[held[index].format]
        var node = held[index].template
        for other in format.texts {
            if case .string? = node[path: other.path] { node[path: other.path] = .masked([]) }
        }
        node[path: format.texts[held[index].rule].path] = .masked(text)
        return Event(fields: held[index].fields, payload: written(maskStrings(node)))
    }

    func written(_ node: JSONNode) -> [UInt8] {
        var out: [UInt8] = []
        node.write(into: &out)
        return out
    }

    /// Every string in `node` masked where it stands (streamed texts are `.masked` already).
    func maskStrings(_ node: JSONNode, key: String? = nil) -> JSONNode {
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
