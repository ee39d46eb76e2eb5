import PosternApprovals
import PosternCore

/// Approvals and grants as the admin API shows them.
enum ApprovalJSON {
    static func approval(_ approval: Approval) -> String {
        var fields = [
            "\"id\":\(JSONText.quote(approval.id))", "\"state\":\"\(approval.state.rawValue)\"",
            "\"requester\":\(JSONText.quote(approval.requester))", "\"function\":\(JSONText.quote(approval.function))",
            "\"operation\":\(JSONText.quote(approval.operation))", "\"rule\":\(JSONText.quote(approval.rule))",
            "\"digest\":\"\(approval.digest)\"", "\"summary\":\(JSONText.quote(approval.summary))",
            "\"created_at\":\(approval.createdAt)", "\"expires_at\":\(approval.expiresAt)",
            "\"approvals_needed\":\(approval.requirement.approvalsNeeded)",
        ]
        if let model = approval.model { fields.append("\"model\":\(JSONText.quote(model))") }
        let verdicts = approval.verdicts.map {
            "{\"approver\":\(JSONText.quote($0.approver)),\"approved\":\($0.approved),\"reason\":\(JSONText.quote($0.reason)),\"at\":\($0.at)}"
        }
        fields.append("\"verdicts\":[" + verdicts.joined(separator: ",") + "]")
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func grant(_ grant: Grant, now: Int64) -> String {
        var fields = [
            "\"id\":\(JSONText.quote(grant.id))", "\"state\":\"\(grant.state(at: now).rawValue)\"",
            "\"approval\":\(JSONText.quote(grant.approval))", "\"holder\":\(JSONText.quote(grant.holder))",
            "\"operation\":\(JSONText.quote(grant.operation))", "\"expires_at\":\(grant.expiresAt)",
            "\"uses_left\":\(grant.usesLeft)",
        ]
        if let digest = grant.digest { fields.append("\"digest\":\"\(digest)\"") }
        return "{" + fields.joined(separator: ",") + "}"
    }
}
