import PosternCore
import PosternPolicy
import PosternTLS

/// The authorize step of the exchange: classify the request into an operation, decide with
/// the enforced rules (and the shadow ones, for the log), and pick the function's own
/// upstream credential. Pure: no socket, no event loop; the exchange carries out the result.
struct AuthorizeStep {
    let classifier: Classifier
    let authorizer: Authorizer
    let shadow: Authorizer?

    /// What the step found, for the log, and whether the request may go on.
    struct Result {
        var operation: Operation?
        var decision: Decision?
        var shadowDecision: Decision?
        /// Added to the forwarded request when set.
        var credential: UpstreamCredential?
        /// Why the request stops here: the error for the caller, the log's outcome and detail.
        var refusal: (error: CallerError, outcome: String, detail: String?)?
    }

    func run(method: String, path: Substring, caller: String, groups: [String] = [], context: RequestContext,
             upstreamCredentials: [String: Swift.Result<UpstreamCredential, UpstreamCredentialUnavailable>]) -> Result {
        var result = Result()
        guard let operation = classifier.classify(method: method, path: path) else {
            result.refusal = (.noRoute(path), "no_operation", nil)
            return result
        }
        let facts = CallerFacts(id: caller, groups: groups)
        let decision = authorizer.decide(facts, operation, context)
        result.operation = operation
        result.decision = decision
        result.shadowDecision = shadow?.decide(facts, operation, context)
        switch decision.outcome {
        case .allow:
            break
        case .deny:
            result.refusal = (.permissionDenied(decision.reason), "denied", nil)
            return result
        case .needsApproval:
            result.refusal = (.approvalRequired(decision.reason), "approval_required", nil)
            return result
        }
        // The function's own upstream credential, or nothing goes out.
        switch upstreamCredentials[operation.function] {
        case nil:
            break
        case .success(let own)?:
            result.credential = own
        case .failure(let unavailable)?:
            result.refusal = (.credentialUnavailable(function: operation.function), "upstream_credential_unavailable",
                              unavailable.description)
        }
        return result
    }
}

extension HeaderList: HeaderLookup {
    public func value(of name: String) -> String? { self[name] }
}
