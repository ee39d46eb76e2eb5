#if canImport(Glibc)
import Glibc
#endif
import PosternCore
import PosternPolicy

/// What Postern would do with a request, without sending anything: the normalised path,
/// the route, the operation, and the decision with the rule that made it (and the shadow
/// rule set's). `postern explain` prints it; tests call it directly.
public struct Explanation: Sendable, Equatable {
    public var path: String
    public var route: Route?
    public var operation: Operation?
    public var decision: Decision?
    public var shadowDecision: Decision?
    /// Set when the request would be refused before authorization (bad path, no route…).
    public var refusal: String?
    /// What the answer depends on that was not given.
    public var note: String?

    /// One JSON object.
    public var json: String {
        var members = ["\"path\":\(JSONText.quote(path))"]
        if let route {
            members.append("\"route\":{\"prefix\":\(JSONText.quote(route.prefix)),\"upstream\":\(JSONText.quote(route.upstream)),"
                           + "\"public\":\(route.isPublic)}")
        }
        if let operation {
            var fields = ["\"function\":\(JSONText.quote(operation.function))", "\"name\":\(JSONText.quote(operation.name))",
                          "\"risk\":\"\(operation.risk.rawValue)\"", "\"profile\":\(JSONText.quote(operation.profile))"]
            if let model = operation.model { fields.append("\"model\":\(JSONText.quote(model))") }
            if let version = operation.version { fields.append("\"version\":\(JSONText.quote(version))") }
            members.append("\"operation\":{" + fields.joined(separator: ",") + "}")
        }
        for (name, decision) in [("decision", decision), ("shadow_decision", shadowDecision)] {
            guard let decision else { continue }
            members.append("\"\(name)\":{\"outcome\":\"\(decision.outcome.rawValue)\",\"rule\":\(JSONText.quote(decision.rule)),"
                           + "\"reason\":\(JSONText.quote(decision.reason))}")
        }
        if let refusal { members.append("\"refused\":\(JSONText.quote(refusal))") }
        if let note { members.append("\"note\":\(JSONText.quote(note))") }
        return "{" + members.joined(separator: ",") + "}"
    }
}

extension PosternConfig {
    /// The data path's steps for `caller` (nil: no credential) sending `method path` (with
    /// `body`, a JSON request body, where the decision reads one).
    public func explain(caller: String?, method: String, path: String, body: [UInt8]? = nil) -> Explanation {
        var explanation = Explanation(path: path)
        switch RequestTarget.normalize(path, allowAbsoluteForm: true) {
        case .failure(let error):
            explanation.refusal = error.message
            return explanation
        case .success(let target):
            explanation.path = target.path
        }
        let bare = explanation.path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        explanation.route = route(forPath: bare)
        guard let route = explanation.route else {
            explanation.refusal = caller == nil ? "401: no credential" : "404: no route"
            return explanation
        }
        if route.isPublic { return explanation }
        guard let caller else {
            explanation.refusal = "401: no credential"
            return explanation
        }
        guard policy.isEnforced else { return explanation }
        let requestPolicy = requestPolicy()
        guard let operation = requestPolicy.classify(method: method.uppercased(), path: bare) else {
            explanation.refusal = "404: no operation of the enabled profiles matches"
            return explanation
        }
        explanation.operation = operation
        let facts = CallerFacts(id: caller)
        var read: RequestBody?
        if let body {
            switch RequestBody.read(body, contentType: nil, contentEncoding: nil, modelField: operation.modelField) {
            case .success(let parsed): read = parsed
            case .failure(.unreadable(let why)), .failure(.uninspectable(let why)):
                explanation.refusal = "400: \(why)"
                return explanation
            }
        } else if requestPolicy.bodyRead(for: operation, caller: facts) != nil {
            explanation.note = "this decision reads the request body (its model, the parameter guard): pass --body FILE"
        }
        let verdict = requestPolicy.decide(operation, caller: facts, context: RequestContext(time: Int64(time(nil))),
                                           body: read)
        explanation.operation = verdict.operation
        explanation.decision = verdict.decision
        explanation.shadowDecision = verdict.shadowDecision
        return explanation
    }
}

extension Explanation {
    init(path: String) { self.path = path }
}
