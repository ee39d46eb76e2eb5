#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import PosternApprovals
import PosternCore
import PosternPolicy

/// A request that needs approval: read whole, digested, and passed on a grant or refused
/// (or held open) with its approval's id.
extension Exchange {
    /// A request that needs approval, whole: it passes on a grant for exactly it, or waits
    /// for the approval it now has (its id is in the refusal).
    func settleApproval(_ bytes: [UInt8], trailers: HeaderList?) {
        approvalWaitsForBody = false
        guard let desk = services.approvals, let principal, let operation, let decision else {
            fail(approvalRefusal ?? .approvalRequired("needs approval"), outcome: "approval_required")
            return
        }
        let now = Int64(time(nil))
        let digest = RequestDigest.hex(method: request.method, path: request.path,
                                       headers: request.headers.filter { $0.name == "content-type" }.map { ($0.name, $0.value) },
                                       body: bytes)
        let asked = ApprovalBook.Request(requester: principal.id, function: operation.function, operation: operation.name,
                                         model: operation.model, rule: decision.rule, digest: digest,
                                         summary: ApprovalSummary.text(request, operation, bytes))
        let requirement = services.config.policy.approvalRequirements[decision.rule] ?? ApprovalRequirement(approvers: [])
        switch desk.ask(asked, requirement: requirement, now: now) {
        case .pending(let approval) where requirement.holdOpen > 0 && awaitingDecision == nil:
            approvalID = approval.id
            // Held open while the approvers decide: the sweeper looks again every tick.
            awaitingDecision = (approval.id, .now() + .seconds(min(requirement.holdOpen, approval.expiresAt - now)),
                                bytes, trailers)
            services.sweeper.track(self)
        case .pending(let approval):
            approvalID = approval.id
            awaitingDecision = nil
            fail(.approvalRequired("\(decision.reason): approval \(approval.id) is pending until \(approval.expiresAt); "
                                   + "approvers decide at /admin/v1/approvals/\(approval.id)"),
                 outcome: "approval_required", detail: approval.id)
        case nil:
            fail(.approvalStoreUnavailable(), outcome: "approval_store_unavailable")
        case .granted(let grant, let secondsLeft):
            switch services.credentials.upstream[operation.function] {
            case .success(let own)?: credential = own
            case .failure(let unavailable)?:
                fail(.credentialUnavailable(function: operation.function), outcome: "upstream_credential_unavailable",
                     detail: unavailable.description)
                return
            case nil: break
            }
            awaitingDecision = nil
            grantID = grant
            self.decision = Decision(.allow, rule: "grant \(grant)", reason: "allowed by grant \(grant)")
            grantEnds = .now() + .seconds(secondsLeft)
            send(bytes, trailers: trailers)
        }
    }
}
