import Testing
@testable import PosternMasking

func chunk(_ content: String?, index: Int = 0, finish: String? = nil) -> String {
    var delta = "{}"
    if let content {
        var quoted: [UInt8] = []
        JSONString.encode(Array(content.utf8), into: &quoted)
        delta = "{\"content\":\(String(decoding: quoted, as: UTF8.self))}"
    }
    let reason = finish.map { "\"\($0)\"" } ?? "null"
    return "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":\(index),\"delta\":\(delta),\"finish_reason\":\(reason)}]}\n\n"
}

func maskSSE(_ text: String, cuts: [Int] = []) throws -> String {
    try maskInChunks(text, cuts: cuts, .sse(SSEMasker(policy: MaskingPolicy())))
}

/// The content a client would assemble from the masked stream, and every event's content.
func contents(_ stream: String) -> (whole: String, pieces: [String]) {
    var pieces: [String] = []
    for line in stream.split(separator: "\n") where line.hasPrefix("data: {") {
        guard let node = JSONNode.parse(Array(line.dropFirst(6).utf8)), case .array(let choices)? = node["choices"] else { continue }
        for choice in choices {
            if case .string(let text)? = choice["delta"]?["content"] { pieces.append(String(decoding: text, as: UTF8.self)) }
        }
    }
    return (pieces.joined(), pieces)
}

@Suite struct SSEMaskerTests {
    @Test func aCardSplitOverThreeEventsIsCaught() throws {
        let stream = chunk("My card is 4111 ") + chunk("1111 1111") + chunk(" 1111, thanks") + chunk(nil, finish: "stop")
            + "data: [DONE]\n\n"
        let masked = try maskSSE(stream)
        let (whole, pieces) = contents(masked)
        #expect(whole == "My card is [CREDIT_CARD], thanks")
        #expect(!pieces.contains { $0.contains("1111") || $0.contains("4111") })
        #expect(masked.hasSuffix("data: [DONE]\n\n"))
    }

    @Test func anEntityIsCaughtWhereverTheEventsSplitIt() throws {
        let texts = ["Reach me at alice.smith@example.com or +1 415 555 2671 today.",
                     "IBAN GB82 WEST 1234 5698 7654 32 and SSN 123-45-6789 done",
                     "paid (DE89 3704 0044 0532 0130 00) and \"5555 5555 5555 4444\" ok",
                     "key -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY----- end"]
        for text in texts {
            let expected = MaskingPolicy().mask(text)
            let bytes = Array(text.utf8)
            for a in 1..<bytes.count {
                for b in stride(from: a + 1, to: bytes.count, by: 5) {
                    let parts = [bytes[..<a], bytes[a..<b], bytes[b...]].map { String(decoding: $0, as: UTF8.self) }
                    let stream = parts.map { chunk($0) }.joined() + chunk(nil, finish: "stop") + "data: [DONE]\n\n"
                    let (whole, pieces) = contents(try maskSSE(stream))
                    #expect(whole == expected, "split at \(a), \(b)")
                    for secret in ["alice.smith", "415 555", "WEST 1234", "6789", "MIIEvQ", "DE89 3704", "5555 5555"] {
                        #expect(!pieces.contains { $0.contains(secret) }, "\(secret) leaked at \(a), \(b)")
                    }
                }
            }
        }
    }

    @Test func wordsReleasedInEarlierEventsStillSayWhatAValueIs() throws {
        // "SSN " and "version " leave in an event of their own; what follows is judged by them.
        for (parts, expected) in [(["my SSN ", "123456789 ok"], "my SSN [US_SSN] ok"),
                                  (["the version ", "2.7.0.31 ok"], "the version 2.7.0.31 ok"),
                                  (["ORD-", "4111111111111111 ok"], "ORD-4111111111111111 ok"),
                                  (["phone: ", "4155552671 ok"], "phone: [PHONE] ok")] {
            let stream = parts.map { chunk($0) }.joined() + chunk(nil, finish: "stop") + "data: [DONE]\n\n"
            #expect(contents(try maskSSE(stream)).whole == expected, "\(parts)")
        }
    }

    @Test func chunkBoundariesInsideEventsDoNotMatter() throws {
        let stream = ": keep-alive\n\nid: 7\nevent: message\n" + chunk("mail bob@example.org now").dropFirst(0)
            + chunk(nil, finish: "stop") + "data: [DONE]\n\n"
        let whole = try maskSSE(stream)
        #expect(whole.hasPrefix(": keep-alive\n\nid: 7\nevent: message\ndata: {"))
        #expect(contents(whole).whole == "mail [EMAIL] now")
        for cut in 0...stream.utf8.count {
            #expect(try maskSSE(stream, cuts: [cut]) == whole, "cut at \(cut)")
        }
    }

    @Test func textIsHeldOnlyWhileItCouldBecomeAnEntity() throws {
        let masker = SSEMasker(policy: MaskingPolicy())
        let first = String(decoding: try masker.feed(Array(chunk("Hello there, ").utf8)), as: UTF8.self)
        #expect(contents(first).whole == "Hello there, ")
        let second = String(decoding: try masker.feed(Array(chunk("call 415-555").utf8)), as: UTF8.self)
        #expect(contents(second).whole == "call ")
        let third = String(decoding: try masker.feed(Array(chunk("-2671 now").utf8)), as: UTF8.self)
        #expect(contents(third).whole == "[PHONE] ")
    }

    @Test func heldTextIsReleasedBeforeDoneWhenNoChoiceFinished() throws {
        let masked = try maskSSE(chunk("write to alice@exa") + chunk("mple.com") + "data: [DONE]\n\n")
        #expect(contents(masked).whole == "write to [EMAIL]")
        #expect(masked.hasSuffix("data: [DONE]\n\n"))
    }

    @Test func nonJSONDataAndCRLFAreHandled() throws {
        let masked = try maskSSE("event: log\r\ndata: user bob@example.org\r\ndata: line two\r\n\r\n")
        #expect(masked == "event: log\ndata: user [EMAIL]\ndata: line two\n\n")
    }

    @Test func choicesAreStreamedSeparately() throws {
        let stream = chunk("card 4111 1111 ", index: 0) + chunk("mail a@", index: 1) + chunk("1111 1111", index: 0)
            + chunk("example.com", index: 1) + chunk(nil, index: 0, finish: "stop") + chunk(nil, index: 1, finish: "stop")
        let masked = try maskSSE(stream)
        #expect(!masked.contains("4111") && !masked.contains("a@"))
        #expect(contents(masked).whole.contains("[CREDIT_CARD]") && contents(masked).whole.contains("[EMAIL]"))
    }
}
