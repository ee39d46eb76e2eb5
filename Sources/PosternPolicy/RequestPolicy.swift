import PosternJSON

/// Classify, read the body where the decision depends on it, and decide: the whole
/// authorization of one request, as the data path and `postern explain` both run it.
///
/// A class: the data path reaches it through its loop's services on every request, and a
/// reference is one retain where a struct of tables would be one per table.
public final class RequestPolicy: Sendable {
    public let classifier: Classifier
    public let authorizer: Authorizer
    public let shadow: Authorizer?
    /// Sorted by name: the first violation found is the same on every run.
    public let guards: [ParameterGuard]
    /// The most body held to inspect one request.
    public let inspectionLimit: Int

    public init(classifier: Classifier, authorizer: Authorizer, shadow: Authorizer? = nil,
                guards: [ParameterGuard] = [], inspectionLimit: Int = 1 << 20) {
        self.classifier = classifier
        self.authorizer = authorizer
        self.shadow = shadow
        self.guards = guards.sorted { $0.name < $1.name }
        self.inspectionLimit = inspectionLimit
    }

    /// How much of the body to hold before deciding, and what set that limit.
    public struct BodyRead: Sendable, Equatable {
        public var limit: Int
        public var setBy: String
        public init(limit: Int, setBy: String) {
            self.limit = limit
            self.setBy = setBy
        }
    }

    /// The decision and what it was made on.
    public struct Verdict: Sendable, Equatable {
        /// With the model the body named, where the path named none.
        public var operation: Operation
        public var decision: Decision
        public var shadowDecision: Decision?
        /// The guard's finding when it made the decision.
        public var violation: GuardViolation?
    }

    public func classify(method: String, path: Substring) -> Operation? {
        classifier.classify(method: method, path: path)
    }

    /// Whether the decision needs the JSON body: a rule or guard about models on an
    /// operation whose body names its model, or a guard covering the request. Nil decides
    /// on the head alone.
    public func bodyRead(for operation: Operation, caller: CallerFacts) -> BodyRead? {
        let covering = guards.filter { $0.covers(caller, operation) }
        let needsModel = operation.modelField != nil
            && (authorizer.readsModels || shadow?.readsModels == true || covering.contains { !$0.models.isEmpty })
        guard needsModel || !covering.isEmpty else { return nil }
        return limit(covering)
    }

    /// What a gRPC call's request messages need before they pass.
    public enum MessageInspection: Sendable, Equatable {
        /// Nothing: the path decides.
        case none
        /// Each message is held whole (up to the limit), read for its model, version and
        /// parameters, and decided before it passes; `guarded`: a guard reads every message.
        case messages(BodyRead, guarded: Bool)
        /// A guard covers a method whose messages Postern cannot read: refused, never
        /// passed unread.
        case refused(guardName: String)
    }

    public func messageInspection(for operation: Operation, caller: CallerFacts) -> MessageInspection {
        let covering = guards.filter { $0.covers(caller, operation) }
        if let unreadable = covering.first, operation.messageModel == nil { return .refused(guardName: unreadable.name) }
        let needsModel = operation.messageModel != nil && (authorizer.readsModels || shadow?.readsModels == true)
        guard needsModel || !covering.isEmpty else { return .none }
        return .messages(limit(covering), guarded: !covering.isEmpty)
    }

    private func limit(_ covering: [ParameterGuard]) -> BodyRead {
        var read = BodyRead(limit: inspectionLimit, setBy: "limits.max_inspected_body")
        for guardRule in covering where guardRule.maxBody > 0 && guardRule.maxBody < read.limit {
            read = BodyRead(limit: guardRule.maxBody, setBy: "guard '\(guardRule.name)'")
        }
        return read
    }

    /// Whether the request is denied whatever its body says (a deny rule, or a default deny
    /// that no allow rule about models could lift): then its body is not read at all.
    public func deniedWhateverTheBody(_ operation: Operation, caller: CallerFacts, context: RequestContext) -> Bool {
        let decision = authorizer.decide(caller, operation, context)
        return decision.outcome == .deny && (decision.rule != "default-deny" || !authorizer.allowsByModel)
    }

    /// `body` is the request's JSON body when `bodyRead` asked for it.
    public func decide(_ operation: Operation, caller: CallerFacts, context: RequestContext,
                       body: RequestBody? = nil) -> Verdict {
        var operation = operation
        if operation.model == nil, let model = body?.model { operation.model = model }
        var verdict = Verdict(operation: operation, decision: authorizer.decide(caller, operation, context),
                              shadowDecision: shadow?.decide(caller, operation, context))
        // A guard's deny holds even where a rule asks for approval: nobody approves past it.
        guard verdict.decision.outcome != .deny, let body,
              let violation = guards.lazy.filter({ $0.covers(caller, operation) && $0.coversModel(operation.model) })
                  .compactMap({ $0.violation(in: body.json, size: body.size) }).first else { return verdict }
        switch violation.action {
        case .deny:
            verdict.decision = Decision(.deny, rule: violation.guardName, reason: violation.message)
            verdict.violation = violation
        case .approval where verdict.decision.outcome == .allow:
            verdict.decision = Decision(.needsApproval, rule: violation.guardName, reason: "\(violation.message): needs approval")
            verdict.violation = violation
        case .approval:
            break
        }
        return verdict
    }
}

/// A request body read for the decision: its JSON and the model it names.
public struct RequestBody: Sendable {
    public var json: JSONValue
    public var model: String?
    public var size: Int

    /// Why a body that had to be read could not be.
    public enum Problem: Error, Sendable, Equatable {
        /// Not a format or encoding Postern reads (415).
        case uninspectable(String)
        /// Not strict JSON, or the model member is not text (400).
        case unreadable(String)
    }

    /// Strict: a body two parsers could read differently (duplicate members, comments,
    /// NaN) is refused, since the model server's reading is the one that counts.
    public static func read(_ bytes: [UInt8], contentType: String?, contentEncoding: String?,
                            modelField: String?) -> Result<RequestBody, Problem> {
        if let encoding = contentEncoding, encoding.lowercased() != "identity" {
            return .failure(.uninspectable("a request body with content-encoding '\(encoding)' cannot be inspected; send it uncompressed"))
        }
        if let type = contentType, !isJSON(type) {
            return .failure(.uninspectable("this request's body is inspected and must be JSON, not '\(type)'"))
        }
        guard let json = JSONValue.parse(bytes) else {
            return .failure(.unreadable("the request body is not strict JSON (RFC 8259, each member once)"))
        }
        guard case .object = json else { return .failure(.unreadable("the request body must be a JSON object")) }
        var body = RequestBody(json: json, model: nil, size: bytes.count)
        if let modelField, let named = json[modelField] {
            guard case .string(let model) = named else { return .failure(.unreadable("'\(modelField)' must be a string")) }
            body.model = model
        }
        return .success(body)
    }

    /// `application/json` or an `application/…+json` type, any parameters.
    static func isJSON(_ contentType: String) -> Bool {
        let media = contentType.utf8.split(separator: UInt8(ascii: ";"), maxSplits: 1, omittingEmptySubsequences: false)[0]
        let type = String(decoding: media.filter { $0 != 0x20 && $0 != 0x09 }, as: UTF8.self).lowercased()
        return type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
    }
}
