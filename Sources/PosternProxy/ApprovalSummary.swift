import PosternCore
import PosternPolicy

/// What an approver reads about a held request: who asks for which operation on which model,
/// and the start of its body (a model load's configuration is what would change).
enum ApprovalSummary {
    static let bodyShown = 512

    static func text(_ request: RequestHead, _ operation: Operation, _ body: [UInt8]) -> String {
        var text = "\(request.method) \(request.path): \(operation.function) \(operation.name)"
        if let model = operation.model { text += " on model '\(model)'" }
        if let version = operation.version { text += " version \(version)" }
        guard !body.isEmpty else { return text + ", no body" }
        let shown = String(decoding: body.prefix(bodyShown), as: UTF8.self)
        return text + ", body (\(body.count) bytes): " + shown + (body.count > bodyShown ? "…" : "")
    }
}
