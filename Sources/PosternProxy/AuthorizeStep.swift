import PosternCore
import PosternPolicy
import PosternTLS

/// The authorize step of the exchange: the request policy's verdict turned into what the
/// exchange does (the error a refused caller gets, the log's outcome), and the function's
/// own upstream credential. Pure: no socket, no event loop.
struct AuthorizeStep: Sendable {
    let policy: RequestPolicy

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

    /// Decides; `body` is the whole request body when the policy's `bodyRead` asked for it,
    /// `message` what a gRPC request message said when `messageInspection` asked for it.
    func run(_ operation: Operation, caller: CallerFacts, context: RequestContext, body: HeldRequest? = nil,
             message: RequestBody? = nil,
             upstreamCredentials: [String: Swift.Result<UpstreamCredential, UpstreamCredentialUnavailable>]) -> Result {
        var result = Result(operation: operation)
        var read = message
        if let body {
            switch RequestBody.read(body.bytes, contentType: body.contentType, contentEncoding: body.contentEncoding,
                                    modelField: operation.modelField) {
            case .success(let parsed):
                read = parsed
            case .failure(.uninspectable(let message)):
                result.refusal = (.uninspectableBody(message), "unreadable_body", nil)
                return result
            case .failure(.unreadable(let message)):
                result.refusal = (.unreadableBody(message), "unreadable_body", nil)
                return result
            }
        }
        let verdict = policy.decide(operation, caller: caller, context: context, body: read)
        result.operation = verdict.operation
        result.decision = verdict.decision
        result.shadowDecision = verdict.shadowDecision
        switch verdict.decision.outcome {
        case .allow:
            break
        case .deny:
            if let violation = verdict.violation {
                let error: CallerError = violation.kind == .tooLarge
                    ? .bodyTooLarge(limit: read?.size ?? 0) : .parameterNotAllowed(violation.message)
                result.refusal = (error, "parameter_violation", violation.message)
            } else {
                result.refusal = (.permissionDenied(verdict.decision.reason), "denied", nil)
            }
            return result
        case .needsApproval:
            result.refusal = (.approvalRequired(verdict.decision.reason), "approval_required", nil)
            return result
        }
        // The function's own upstream credential, or nothing goes out.
        switch upstreamCredentials[verdict.operation.function] {
        case nil:
            break
        case .success(let own)?:
            result.credential = own
        case .failure(let unavailable)?:
            result.refusal = (.credentialUnavailable(function: verdict.operation.function), "upstream_credential_unavailable",
                              unavailable.description)
        }
        return result
    }
}

/// A request body held whole for the decision, with what the head said about it.
struct HeldRequest {
    var bytes: [UInt8]
    var contentType: String?
    var contentEncoding: String?

    /// Repeated fields are combined as RFC 9110 §5.3 says, so two content types (which a
    /// server might read either way) are one that is not JSON.
    init(bytes: [UInt8], headers: HeaderList) {
        func combined(_ name: String) -> String? {
            let values = headers.filter { $0.name == name }.map(\.value)
            return values.isEmpty ? nil : values.joined(separator: ", ")
        }
        self.init(bytes: bytes, contentType: combined("content-type"), contentEncoding: combined("content-encoding"))
    }

    init(bytes: [UInt8], contentType: String?, contentEncoding: String?) {
        self.bytes = bytes
        self.contentType = contentType
        self.contentEncoding = contentEncoding
    }
}

extension HeaderList: HeaderLookup {
    public func value(of name: String) -> String? { self[name] }
}
