import Testing
import PosternConfig
@testable import PosternMasking

/// A JSON string literal for `text`.
private func quoted(_ text: String) -> String {
    var out: [UInt8] = []
    JSONString.encode(Array(text.utf8), into: &out)
    return String(decoding: out, as: UTF8.self)
}

/// One streaming format as a test drives it: how a piece of text is sent, what ends the
/// stream, and how a client reads the pieces back.
private struct Format: Sendable {
    var name: String
    var piece: @Sendable (String) -> String
    var end: String
    var ndjson = false
    var read: @Sendable (JSONNode) -> String?

    func masker(_ policy: MaskingPolicy = MaskingPolicy()) -> ResponseMasker {
        ndjson ? .ndjson(NDJSONMasker(policy: policy)) : .sse(SSEMasker(policy: policy))
    }

    /// The pieces a client reads from a masked stream, in order.
    func pieces(_ stream: String) -> [String] {
        stream.split(separator: "\n").compactMap { line -> String? in
            let json = ndjson ? Substring(line) : line.hasPrefix("data: ") ? line.dropFirst(6) : ""
            return JSONNode.parse(Array(json.utf8)).flatMap(read)
        }
    }
}

private func text(_ node: JSONNode?) -> String? {
    if case .string(let bytes)? = node { return String(decoding: bytes, as: UTF8.self) }
    return nil
}

private let responses = Format(
    name: "openai-responses",
    piece: { "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\(quoted($0))}\n\n" },
    end: "event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"text\":\"(whole)\"}\n\n",
    read: { $0["type"] == .string(Array("response.output_text.delta".utf8)) ? text($0["delta"]) : nil })

private let responsesArguments = Format(
    name: "openai-responses function call",
    piece: { "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"item_id\":\"fc_1\",\"output_index\":1,\"delta\":\(quoted($0))}\n\n" },
    end: "event: response.function_call_arguments.done\ndata: {\"type\":\"response.function_call_arguments.done\",\"item_id\":\"fc_1\",\"output_index\":1,\"arguments\":\"{}\"}\n\n",
    read: { $0["type"] == .string(Array("response.function_call_arguments.delta".utf8)) ? text($0["delta"]) : nil })

private let anthropic = Format(
    name: "anthropic-messages",
    piece: { "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\(quoted($0))}}\n\n" },
    end: "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    read: { text($0["delta"]?["text"]) })

private let anthropicTool = Format(
    name: "anthropic-messages tool input",
    piece: { "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\(quoted($0))}}\n\n" },
    end: "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    read: { text($0["delta"]?["partial_json"]) })

private let tgi = Format(
    name: "tgi-generate-stream",
    piece: { "data:{\"index\":1,\"token\":{\"id\":7,\"text\":\(quoted($0)),\"logprob\":-0.1,\"special\":false},\"generated_text\":null,\"details\":null}\n\n" },
    end: "data:{\"index\":9,\"token\":{\"id\":2,\"text\":\"\",\"logprob\":0,\"special\":true},\"generated_text\":\"(whole)\",\"details\":null}\n\n",
    read: { text($0["token"]?["text"]) })

private let ollama = Format(
    name: "ollama",
    piece: { "{\"model\":\"llama3\",\"created_at\":\"2026-12-07T10:00:00Z\",\"message\":{\"role\":\"assistant\",\"content\":\(quoted($0))},\"done\":false}\n" },
    end: "{\"model\":\"llama3\",\"created_at\":\"2026-12-07T10:00:01Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"total_duration\":5}\n",
    ndjson: true,
    read: { text($0["message"]?["content"]) })

private let formats = [responses, responsesArguments, anthropic, anthropicTool, tgi, ollama]

@Suite struct StreamFormatTests {
    @Test(arguments: formats.indices)
    func aValueSplitAcrossEventsNeverLeaves(_ which: Int) throws {
        let format = formats[which]
        let masked = try maskInChunks(["My card is 4111 ", "1111 1111", " 1111, mail bob@exa", "mple.org ok"].map(format.piece)
                                          .joined() + format.end, cuts: [], format.masker())
        let pieces = format.pieces(masked)
        #expect(pieces.joined() == "My card is [CREDIT_CARD], mail [EMAIL] ok", "\(format.name)")
        for secret in ["4111", "1111", "bob@", "exa", "mple.org"] {
            #expect(!masked.contains(secret), "\(format.name): \(secret) leaked")
        }
    }

    @Test(arguments: formats.indices)
    func anEntityIsCaughtWhereverTheEventsSplitIt(_ which: Int) throws {
        let format = formats[which]
        let text = "Call +1 415 555 2671 or mail alice.smith@example.com, IBAN GB82 WEST 1234 5698 7654 32 ok"
        let expected = MaskingPolicy().mask(text)
        let bytes = Array(text.utf8)
        for a in stride(from: 1, to: bytes.count, by: 2) {
            for b in stride(from: a + 1, to: bytes.count, by: 7) {
                let parts = [bytes[..<a], bytes[a..<b], bytes[b...]].map { String(decoding: $0, as: UTF8.self) }
                let masked = try maskInChunks(parts.map(format.piece).joined() + format.end, cuts: [], format.masker())
                #expect(format.pieces(masked).joined() == expected, "\(format.name) split at \(a), \(b)")
                for secret in ["alice.smith", "415 555", "WEST 1234", "5698"] {
                    #expect(!masked.contains(secret), "\(format.name): \(secret) leaked at \(a), \(b)")
                }
            }
        }
    }

    @Test(arguments: formats.indices)
    func chunkBoundariesInsideEventsDoNotMatter(_ which: Int) throws {
        let format = formats[which]
        let stream = ["write to carol@", "example.net today"].map(format.piece).joined() + format.end
        let whole = try maskInChunks(stream, cuts: [], format.masker())
        for cut in 0...stream.utf8.count {
            #expect(try maskInChunks(stream, cuts: [cut], format.masker()) == whole, "\(format.name) cut at \(cut)")
        }
    }

    @Test func heldTextIsReleasedBeforeTheEventThatEndsItInAnEventLikeTheLast() throws {
        let masked = try maskInChunks(responses.piece("reach me at dave@exa") + responses.piece("mple.com") + responses.end,
                                      cuts: [], responses.masker())
        let events = masked.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(events.count == 4)
        #expect(events[2].hasPrefix("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\""))
        #expect(events[2].contains("\"delta\":\"[EMAIL]\""))
        #expect(events[3].hasPrefix("event: response.output_text.done"))
    }

    @Test func anEndReleasesOnlyTheTextsItNames() throws {
        // Block 0 ends (its address held: it could still go on) while block 1 holds half a
        // card: only block 0's tail is released.
        func delta(_ index: Int, _ text: String) -> String {
            "data: {\"type\":\"content_block_delta\",\"index\":\(index),\"delta\":{\"type\":\"text_delta\",\"text\":\(quoted(text))}}\n\n"
        }
        let masker = SSEMasker(policy: MaskingPolicy())
        var out = try masker.feed(Array((delta(0, "mail erin@example.org") + delta(1, "card 4111 1111 ")).utf8))
        out += try masker.feed(Array("data: {\"type\":\"content_block_stop\",\"index\":0}\n\n".utf8))
        let sofar = String(decoding: out, as: UTF8.self)
        #expect(sofar.contains("\"text\":\"[EMAIL]\"") && !sofar.contains("erin") && !sofar.contains("4111"))
        out += try masker.feed(Array((delta(1, "1111 1111 ok") + "data: {\"type\":\"message_stop\"}\n\n").utf8))
        out += try masker.finish()
        // In order of sending: block 0 "mail ", block 1 "card ", block 0's release, block 1's rest (its
        // last word held until the message stops).
        #expect(anthropic.pieces(String(decoding: out, as: UTF8.self)) == ["mail ", "card ", "[EMAIL]", "[CREDIT_CARD] ", "ok"])
    }

    @Test func anOllamaLineWithThinkingAndContentStreamsBoth() throws {
        let line = { (thinking: String, content: String) in
            "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"thinking\":\(quoted(thinking)),\"content\":\(quoted(content))},\"done\":false}\n"
        }
        let masked = try maskInChunks(line("ssn 123-45-", "call 415 555 ") + line("6789 ok", "2671 ok"), cuts: [],
                                      .ndjson(NDJSONMasker(policy: MaskingPolicy())))
        #expect(!masked.contains("6789") && !masked.contains("2671") && !masked.contains("415 555"))
        #expect(masked.contains("[US_SSN]") && masked.contains("[PHONE]"))
        // The release at the end carries each text once.
        let contents = masked.split(separator: "\n").compactMap { text(JSONNode.parse(Array($0.utf8))?["message"]?["content"]) }
        #expect(contents.joined() == "call [PHONE] ok")
    }

    @Test func anNDJSONLineThatIsNotJSONFailsTheStream() {
        #expect(throws: MaskingError.self) {
            try maskInChunks("{\"model\":\"m\",\"response\":\"hi\",\"done\":false}\nnot json 4111 1111 1111 1111\n", cuts: [],
                             .ndjson(NDJSONMasker(policy: MaskingPolicy())))
        }
    }

    @Test func eventsNoFormatDescribesAreMaskedOnTheirOwnAndCounted() throws {
        let stream = "data: {\"chunk\":\"mail frank@example.org\"}\n\ndata: {\"chunk\":\"more\"}\n\ndata: raw text 4111 1111 1111 1111\n\n"
        let masker = SSEMasker(policy: MaskingPolicy())
        let masked = String(decoding: try masker.feed(Array(stream.utf8)) + masker.finish(), as: UTF8.self)
        #expect(masked.contains("[EMAIL]") && masked.contains("[CREDIT_CARD]"))
        #expect(masker.unmatchedEvents == 3)
        // A described stream counts none, [DONE] and keep-alives included.
        let described = SSEMasker(policy: MaskingPolicy())
        _ = try described.feed(Array((anthropic.piece("hi") + ": ping\n\ndata: [DONE]\n\n").utf8))
        #expect(described.unmatchedEvents == 0)
    }

    @Test func anEventThatNamesAMemberTwiceFailsTheStream() {
        // Postern would hold the first `text`, a client show the last: refused instead.
        let event = "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\",\"text\":\"4111 \"}}\n\n"
        #expect(throws: MaskingError.self) { try SSEMasker(policy: MaskingPolicy()).feed(Array(event.utf8)) }
        #expect(throws: MaskingError.self) {
            try NDJSONMasker(policy: MaskingPolicy()).feed(Array("{\"model\":\"m\",\"done\":false,\"done\":true}\n".utf8))
        }
    }

    @Test func aPolicyCanRefuseStreamsNoFormatDescribes() throws {
        var policy = MaskingPolicy()
        policy.unknownStreams = .refuse
        let masker = SSEMasker(policy: policy)
        _ = try masker.feed(Array(anthropic.piece("fine").utf8))
        #expect(throws: MaskingError.self) { try masker.feed(Array("data: {\"chunk\":\"x\"}\n\n".utf8)) }
    }

    @Test func anOperatorDescribesAFormatPosternDoesNotKnow() throws {
        var settings = MaskingSettings(name: "custom")
        settings.streamFormats = [StreamFormatSettings(
            name: "acme",
            match: [.init(path: ["object"], values: ["acme.chunk"])],
            texts: [.init(when: [.init(path: ["kind"], values: ["text"])], path: ["delta", "text"], key: [["index"]])],
            ends: [.init(when: [.init(path: ["finished"], values: ["true"])], key: [["index"]])])]
        settings.unknownStreams = "refuse"
        let policy = try MaskingPolicy.build(settings).get()
        let piece = { (text: String, finished: Bool) in
            "data: {\"object\":\"acme.chunk\",\"kind\":\"text\",\"index\":0,\"finished\":\(finished),\"delta\":{\"text\":\(quoted(text))}}\n\n"
        }
        let masked = try maskInChunks(piece("IBAN DE89 3704 ", false) + piece("0044 0532 0130 00 end", true), cuts: [],
                                      .sse(SSEMasker(policy: policy)))
        #expect(masked.contains("[IBAN] end") && !masked.contains("3704"))
        // Built-in formats still apply under the same policy.
        _ = try maskInChunks(tgi.piece("ok") + tgi.end, cuts: [], .sse(SSEMasker(policy: policy)))
    }
}
