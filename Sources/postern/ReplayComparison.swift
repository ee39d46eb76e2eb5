import PosternJSON

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
        } else if reply.body != recorded.responseBody, let difference = bodyDifference(recorded, reply) {
            differences.append(difference)
        }
        if !differences.isEmpty, recorded.truncated { differences.append("(the recording was truncated)") }
        return differences
    }
}

extension ReplayComparison {
    /// What differs between two bodies that are not byte for byte the same: JSON is
    /// compared as values and an event stream event by event (masking re-encodes what it
    /// reads, so spacing is not a difference); anything else by its bytes.
    static func bodyDifference(_ recorded: RecordedExchange, _ reply: ReplayClient.Reply) -> String? {
        let type = reply["content-type"]?.lowercased() ?? ""
        if type.hasPrefix("text/event-stream") {
            let got = events(reply.body), wanted = events(recorded.responseBody)
            if got.count != wanted.count { return "\(got.count) event(s), recorded \(wanted.count)" }
            guard let at = zip(got, wanted).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset else { return nil }
            return "event \(at) differs"
        }
        if type.contains("json"), let got = JSONValue.parse(reply.body), let wanted = JSONValue.parse(recorded.responseBody) {
            return got == wanted ? nil : "the JSON body differs"
        }
        let at = zip(reply.body, recorded.responseBody).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? min(reply.body.count, recorded.responseBody.count)
        return "body of \(reply.body.count) bytes, recorded \(recorded.responseBody.count); first difference at byte \(at)"
    }

    /// Each event's data, as a JSON value when it is one.
    private static func events(_ body: [UInt8]) -> [JSONValue] {
        let text = String(decoding: body, as: UTF8.self).replacing("\r\n", with: "\n")
        return text.split(separator: "\n\n").compactMap { event -> JSONValue? in
            let data = event.split(separator: "\n").filter { $0.hasPrefix("data:") }
                .map { $0.dropFirst(5).drop { $0 == " " } }.joined(separator: "\n")
            guard !data.isEmpty else { return nil }
            return JSONValue.parse(Array(data.utf8)) ?? .string(data)
        }
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
