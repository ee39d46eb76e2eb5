/// OpenAI-compatible chat and completion chunks, masked per choice: the text of
/// `delta.content` (and `text`, `delta.reasoning_content`, each tool call's
/// `function.arguments`) is one stream per choice; a choice's `finish_reason` ends them.
extension EventTexts {
    func maskChat(_ event: JSONNode, fields: [[UInt8]]) -> [Event] {
        var node = event
        if case .array(let choices)? = node["choices"] {
            node["choices"] = .array(choices.enumerated().map { position, choice in maskChoice(choice, position: position) })
            lastChunk = node
        }
        return [Event(fields: fields, payload: written(maskStrings(node)))]
    }

    /// One choice: its streamed texts go through their held streams; when the choice
    /// finishes, whatever its streams still hold is released into this event.
    private func maskChoice(_ choice: JSONNode, position: Int) -> JSONNode {
        var choice = choice
        let index: String
        if case .number(let n)? = choice["index"] { index = String(decoding: n, as: UTF8.self) } else { index = "#\(position)" }
        let finished = choice["finish_reason"].map { $0 != .null } ?? false
        if case .string(let text)? = choice["text"] {
            choice["text"] = .masked(stream("\(index).text", text, final: finished))
        }
        if var delta = choice["delta"] {
            for key in ["content", "reasoning_content"] {
                if case .string(let text)? = delta[key] {
                    delta[key] = .masked(stream("\(index).\(key)", text, final: finished))
                } else if finished, let held = flushed("\(index).\(key)") {
                    delta[key] = .masked(held)
                }
            }
            if case .array(let calls)? = delta["tool_calls"] {
                delta["tool_calls"] = .array(calls.enumerated().map { position, call in
                    var call = call
                    let callIndex: String
                    if case .number(let n)? = call["index"] { callIndex = String(decoding: n, as: UTF8.self) } else {
                        callIndex = "#\(position)"
                    }
                    if var function = call["function"], case .string(let text)? = function["arguments"] {
                        function["arguments"] = .masked(stream("\(index).tool\(callIndex)", text, final: finished))
                        call["function"] = function
                    }
                    return call
                })
            }
            choice["delta"] = delta
        }
        if finished {
            // Tool-call arguments still held when the choice ends: released masked with it.
            for key in chatTexts.keys.sorted() where key.hasPrefix("\(index).tool") {
                if let held = flushed(key), !held.isEmpty {
                    var delta = choice["delta"] ?? .object([])
                    let call: JSONNode = .object([("index", .number(Array(key.dropFirst("\(index).tool".count).utf8))),
                                                   ("function", .object([("arguments", .masked(held))]))])
                    delta["tool_calls"] = .array([call])
                    choice["delta"] = delta
                }
            }
        }
        return choice
    }

    private func stream(_ key: String, _ text: [UInt8], final: Bool) -> [UInt8] {
        var held = chatTexts[key] ?? HeldText()
        var released = held.append(text, policy: policy, findings: &findings)
        if final { released += held.flush(policy: policy, findings: &findings) }
        chatTexts[key] = final ? nil : held
        return released
    }

    private func flushed(_ key: String) -> [UInt8]? {
        guard var held = chatTexts.removeValue(forKey: key) else { return nil }
        let text = held.flush(policy: policy, findings: &findings)
        return text.isEmpty ? nil : text
    }

    /// Held text of choices that never finished, released in one last chunk shaped like
    /// the previous ones.
    func releaseChat() -> [Event] {
        guard !chatTexts.isEmpty else { return [] }
        var choices: [JSONNode] = []
        for key in chatTexts.keys.sorted() {
            guard let text = flushed(key) else { continue }
            let parts = key.split(separator: ".", maxSplits: 1)
            let index = parts[0].hasPrefix("#") ? "0" : String(parts[0])
            let field = String(parts[1])
            var choice: JSONNode = .object([("index", .number(Array(index.utf8)))])
            if field == "text" {
                choice["text"] = .masked(text)
            } else if field.hasPrefix("tool") {
                let call: JSONNode = .object([("index", .number(Array(field.dropFirst(4).replacingHash().utf8))),
                                               ("function", .object([("arguments", .masked(text))]))])
                choice["delta"] = .object([("tool_calls", .array([call]))])
            } else {
                choice["delta"] = .object([(field, .masked(text))])
            }
            choices.append(choice)
        }
        chatTexts.removeAll()
        guard !choices.isEmpty else { return [] }
        var chunk = lastChunk ?? .object([])
        chunk["choices"] = .array(choices)
        return [Event(fields: [], payload: written(maskStrings(chunk)))]
    }
}

extension Substring {
    fileprivate func replacingHash() -> String { hasPrefix("#") ? String(dropFirst()) : String(self) }
}
