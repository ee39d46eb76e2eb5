/// What differs between a recorded answer and the one a replay got: the status, the body
/// (for gRPC message by message) and the gRPC status.
enum ReplayComparison {
    static func differences(_ recorded: RecordedExchange, _ reply: ReplayClient.Reply) -> [String] {
        var differences: [String] = []
        if reply.status != recorded.status { differences.append("status \(reply.status), recorded \(recorded.status)") }
        if recorded.isGRPC {
            let got = GRPCMessages.split(reply.body), wanted = GRPCMessages.split(recorded.responseBody)
            if got.count != wanted.count { differences.append("\(got.count) gRPC message(s), recorded \(wanted.count)") }
            if let at = zip(got, wanted).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                differences.append("gRPC message \(at) differs")
            }
            let status = { (fields: [(String, String)]) in fields.first { $0.0 == "grpc-status" }?.1 ?? "none" }
            let gotStatus = status(reply.trailers.isEmpty ? reply.headers : reply.trailers)
            if gotStatus != status(recorded.trailers) {
                differences.append("grpc-status \(gotStatus), recorded \(status(recorded.trailers))")
            }
        } else if reply.body != recorded.responseBody {
            let at = zip(reply.body, recorded.responseBody).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                ?? min(reply.body.count, recorded.responseBody.count)
            differences.append("body of \(reply.body.count) bytes, recorded \(recorded.responseBody.count); first difference at byte \(at)")
        }
        if !differences.isEmpty, recorded.truncated { differences.append("(the recording was truncated)") }
        return differences
    }
}

/// A gRPC body as its length-prefixed messages (a cut-off tail as one last piece).
enum GRPCMessages {
    static func split(_ body: [UInt8]) -> [ArraySlice<UInt8>] {
        var messages: [ArraySlice<UInt8>] = []
        var start = 0
        while body.count - start >= 5 {
            let length = body[(start + 1)..<(start + 5)].reduce(0) { $0 << 8 | Int($1) }
            let end = min(body.count, start + 5 + length)
            messages.append(body[start..<end])
            start = end
        }
        if start < body.count { messages.append(body[start...]) }
        return messages
    }
}
