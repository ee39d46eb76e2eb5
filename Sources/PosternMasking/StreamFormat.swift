/// Where the text of a streamed answer lives in the events of one streaming format (the
/// OpenAI Responses API, Anthropic Messages, TGI, Ollama's NDJSON...), as data: which
/// events belong to the format, which field of which event carries the next piece of
/// which text, and which events end a text. The masker keeps each text as one held
/// stream, so a value split across events is caught; operators describe formats Postern
/// does not know in the configuration (`masking.NAME.stream_formats`).
public struct StreamFormat: Sendable, Equatable {
    public var name: String
    /// An event is of this format when every condition holds.
    public var recognise: [FieldMatch]
    public var texts: [StreamedText]
    public var ends: [StreamEnd]

    public init(name: String, recognise: [FieldMatch], texts: [StreamedText], ends: [StreamEnd]) {
        self.name = name
        self.recognise = recognise
        self.texts = texts
        self.ends = ends
    }

    /// Every key path of the format: a stream remembers its values at each, so an end
    /// naming fewer of them (an item's end for every part of it) finds its streams.
    var keyPaths: [[String]] {
        var paths: [[String]] = []
        for path in texts.flatMap(\.key) + ends.flatMap(\.key) where !paths.contains(path) { paths.append(path) }
        return paths
    }
}

/// One field of an event and what it must hold: one of `values` (a value ending in `*`
/// is a prefix), or, with no values, anything but null.
public struct FieldMatch: Sendable, Equatable {
    public var path: [String]
    public var values: [String]

    public init(_ path: [String], _ values: [String] = []) {
        self.path = path
        self.values = values
    }

    func holds(in event: JSONNode) -> Bool {
        guard let field = event[path: path], field != .null else { return false }
        guard !values.isEmpty else { return true }
        guard let text = field.scalarText else { return false }
        return values.contains { value in
            value.hasSuffix("*") ? text.starts(with: value.utf8.dropLast()) : text.elementsEqual(value.utf8)
        }
    }
}

/// A field that carries the next piece of a text in the events `when` describes. Events
/// with the same values at `key` continue the same text.
public struct StreamedText: Sendable, Equatable {
    public var when: [FieldMatch]
    public var path: [String]
    public var key: [[String]]

    public init(when: [FieldMatch] = [], path: [String], key: [[String]] = []) {
        self.when = when
        self.path = path
        self.key = key
    }
}

/// Events that end the texts whose key values they share (every text of the format when
/// `key` is empty): what those texts still hold is released, masked, before the event (or,
/// when the event carries a piece of the text itself, with it).
public struct StreamEnd: Sendable, Equatable {
    public var when: [FieldMatch]
    public var key: [[String]]

    public init(when: [FieldMatch], key: [[String]] = []) {
        self.when = when
        self.key = key
    }
}

/// What the policy does with an event of a stream no format describes.
public enum UnknownStreamAction: String, Sendable, Equatable {
    /// Mask the event on its own (a value split across two such events is not caught);
    /// the request's record counts these events.
    case perEvent = "per_event"
    /// Fail closed: the stream is cut with an error, as for anything that cannot be masked.
    case refuse
}

extension JSONNode {
    subscript(path path: [String]) -> JSONNode? {
        get {
            var node: JSONNode? = self
            for name in path { node = node?[name] }
            return node
        }
        set {
            guard let first = path.first else { return }
            if path.count == 1 {
                self[first] = newValue
            } else if var child = self[first] {
                child[path: Array(path.dropFirst())] = newValue
                self[first] = child
            }
        }
    }

    /// A string's bytes, or a number, boolean or null as JSON writes it.
    var scalarText: [UInt8]? {
        switch self {
        case .string(let bytes), .masked(let bytes), .number(let bytes): bytes
        case .bool(let value): Array((value ? "true" : "false").utf8)
        case .null: Array("null".utf8)
        case .object, .array: nil
        }
    }
}
