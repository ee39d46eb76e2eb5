import PosternCrypto
import PosternJSON

/// The model-parameter guard: what an inference request's JSON body may ask of the model.
/// Pinned values, numeric bounds, fields a caller may not set, a pinned system prompt and a
/// maximum body size. Fields are dotted member paths (`temperature`, `parameters.top_p`).
public struct ParameterGuard: Sendable, Equatable {
    public enum Action: String, Sendable, CaseIterable { case deny, approval }

    public struct Bound: Sendable, Equatable {
        public var min: Double?
        public var max: Double?
        /// Absent counts as a violation (the server's default may be unbounded).
        public var required: Bool
        public init(min: Double? = nil, max: Double? = nil, required: Bool = false) {
            self.min = min
            self.max = max
            self.required = required
        }
    }

    public var name: String
    /// Where it applies: every condition left empty matches anything (functions default to
    /// `inference`).
    public var functions: Set<String> = ["inference"]
    public var operations: Set<String> = []
    public var callers: [CallerPattern] = []
    public var models: [String] = []
    /// The field must be present and equal one of the values (strings, numbers or booleans).
    public var pinned: [String: [JSONValue]] = [:]
    public var bounds: [String: Bound] = [:]
    public var forbidden: [String] = []
    /// SHA-256 (hex) of the system prompts allowed; a request must carry one of them.
    public var systemPrompts: Set<String> = []
    /// Bytes; 0 means the inspection limit.
    public var maxBody: Int = 0
    public var onViolation: Action = .deny

    public init(name: String) { self.name = name }

    /// Whether the guard covers this request, as far as it is known before the body.
    public func covers(_ caller: CallerFacts, _ operation: Operation) -> Bool {
        if !functions.isEmpty, !functions.contains(operation.function) { return false }
        if !operations.isEmpty, !operations.contains(operation.name) { return false }
        if !callers.isEmpty, !callers.contains(where: { Self.admits($0, caller) }) { return false }
        return true
    }

    /// Whether it covers the model the body (or the path) named; a guard about models does
    /// not cover a request that names none.
    public func coversModel(_ model: String?) -> Bool {
        guard !models.isEmpty else { return true }
        guard let model else { return false }
        return models.contains { Glob.matches($0, model) }
    }

    /// The first rule the body breaks, in a fixed order (pins, forbidden fields, bounds, the
    /// system prompt; fields by name), or nil.
    public func violation(in body: JSONValue, size: Int) -> GuardViolation? {
        if maxBody > 0, size > maxBody {
            return violated("body", "is \(size) bytes, over the guard's \(maxBody)", status: .tooLarge)
        }
        for field in pinned.keys.sorted() {
            let allowed = pinned[field]!
            guard let value = Self.lookup(body, field) else {
                return violated(field, "must be set to \(Self.list(allowed))")
            }
            if !allowed.contains(value) { return violated(field, "must be \(Self.list(allowed))") }
        }
        for field in forbidden.sorted() {
            for spelling in Self.spellings(of: field) where Self.lookup(body, spelling) != nil {
                return violated(spelling, "may not be set")
            }
        }
        for field in bounds.keys.sorted() {
            let bound = bounds[field]!
            let present = Self.spellings(of: field).compactMap { spelling in Self.lookup(body, spelling).map { (spelling, $0) } }
            if present.isEmpty, bound.required { return violated(field, "must be set (\(Self.describe(bound)))") }
            for (spelling, value) in present {
                guard case .number(let number) = value else {
                    return violated(spelling, "must be a number (\(Self.describe(bound)))")
                }
                if let min = bound.min, number < min { return violated(spelling, "must be at least \(Self.format(min))") }
                if let max = bound.max, number > max { return violated(spelling, "must be at most \(Self.format(max))") }
            }
        }
        if !systemPrompts.isEmpty {
            let prompts = SystemPrompts.find(in: body)
            if prompts.isEmpty { return violated("messages", "must start from the pinned system prompt") }
            for prompt in prompts where !systemPrompts.contains(SHA256.hex(prompt.text.utf8)) {
                return violated(prompt.field, "is not the pinned system prompt")
            }
        }
        return nil
    }

    private func violated(_ field: String, _ problem: String, status: GuardViolation.Kind = .parameter) -> GuardViolation {
        GuardViolation(guardName: name, field: field, message: "\(field) \(problem) (guard '\(name)')",
                       kind: status, action: onViolation)
    }

    static func admits(_ pattern: CallerPattern, _ caller: CallerFacts) -> Bool {
        if case .exact(let id) = pattern, id.hasPrefix("group:") {
            return caller.groups.contains(String(id.dropFirst("group:".count)))
        }
        return !caller.id.hasPrefix("group:") && pattern.covers(caller.id)
    }

    /// A field and the other names servers accept for it: a bound on `max_tokens` also
    /// holds for `max_completion_tokens` (OpenAI chat) and `max_output_tokens` (Responses).
    static func spellings(of field: String) -> [String] {
        field == "max_tokens" ? ["max_tokens", "max_completion_tokens", "max_output_tokens"] : [field]
    }

    static func lookup(_ body: JSONValue, _ path: String) -> JSONValue? {
        var node = body
        for member in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard let next = node[String(member)] else { return nil }
            node = next
        }
        return node
    }

    private static func list(_ values: [JSONValue]) -> String {
        values.count == 1 ? text(values[0]) : "one of " + values.map(text).joined(separator: ", ")
    }

    private static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): "'\(s)'"
        case .number(let n): format(n)
        case .bool(let b): String(b)
        default: "null"
        }
    }

    private static func describe(_ bound: Bound) -> String {
        switch (bound.min, bound.max) {
        case let (min?, max?): "between \(format(min)) and \(format(max))"
        case let (min?, nil): "at least \(format(min))"
        case let (nil, max?): "at most \(format(max))"
        default: "any number"
        }
    }

    static func format(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }
}

/// What a body broke: the guard, the field, words for the caller, and what to do about it.
public struct GuardViolation: Sendable, Equatable {
    public enum Kind: Sendable { case parameter, tooLarge }
    public var guardName: String
    public var field: String
    public var message: String
    public var kind: Kind
    public var action: ParameterGuard.Action
}

/// The system prompts of a request: each `system` or `developer` message of a chat
/// (`messages`) or Responses (`input`) request, and a Responses request's `instructions`.
/// A message's content is its string, or its text parts joined.
enum SystemPrompts {
    struct Prompt { var field: String; var text: String }

    static func find(in body: JSONValue) -> [Prompt] {
        var prompts: [Prompt] = []
        if case .string(let instructions)? = body["instructions"] {
            prompts.append(Prompt(field: "instructions", text: instructions))
        }
        for list in ["messages", "input"] {
            guard case .array(let messages)? = body[list] else { continue }
            for (index, message) in messages.enumerated() {
                guard case .string(let role)? = message["role"], role == "system" || role == "developer" else { continue }
                // A content that is neither text nor text parts cannot be the pinned prompt.
                prompts.append(Prompt(field: "\(list)[\(index)].content", text: text(of: message["content"]) ?? "\u{0}"))
            }
        }
        return prompts
    }

    private static func text(of content: JSONValue?) -> String? {
        switch content {
        case .string(let text)?:
            return text
        case .array(let parts)?:
            var joined = ""
            for part in parts {
                guard case .string(let text)? = part["text"] else { return nil }
                joined += text
            }
            return joined
        default:
            return nil
        }
    }
}
