import PosternJSON
import PosternMasking
import SwiftProtobuf

/// The response maskers, differentially: however the body is cut into chunks the result is
/// the same, nothing emitted ever holds the value planted in front of the fuzzed part (even
/// when the fuzzed part then makes the masker fail closed), and masked JSON is still JSON.
enum MaskingTargets {
    static let policy = MaskingPolicy()
    static let card = "4111 1111 1111 1111"

    static let all = [
        FuzzTarget(name: "json-mask", summary: "a JSON answer, masked as it streams") { input in
            let chunking = Chunking(input)
            let document = Array("{\"note\":\"card \(card) on file\",\"rest\":".utf8) + chunking.body + Array("}".utf8)
            let whole = mask(document, chunkSize: document.count) { JSONMasker(policy: policy) }
            let cut = mask(document, chunkSize: chunking.size) { JSONMasker(policy: policy) }
            agree(whole, cut, planted: [card], fuzzed: chunking.body)
            if whole.failed == nil, JSONValue.parse(document, maxDepth: 100) != nil,
               JSONValue.parse(whole.emitted, maxDepth: 100) == nil {
                violated("masked JSON is JSON")
            }
        },
        FuzzTarget(name: "sse-mask", summary: "an event stream, values split across chat, Anthropic and Responses events in front") { input in
            let chunking = Chunking(input)
            let planted = Array(("data: {\"choices\":[{\"delta\":{\"content\":\"write to jane.doe@\"}}]}\n\n"
                                 + "data: {\"choices\":[{\"delta\":{\"content\":\"example.com today\"}}]}\n\n"
                                 + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                                 + "\"delta\":{\"type\":\"text_delta\",\"text\":\"mail john.roe@\"}}\n\n"
                                 + "data: {\"type\":\"content_block_delta\",\"index\":0,"
                                 + "\"delta\":{\"type\":\"text_delta\",\"text\":\"example.org now\"}}\n\n"
                                 + "data: {\"type\":\"response.output_text.delta\",\"item_id\":\"m\",\"delta\":\"pay 5555 5555 \"}\n\n"
                                 + "data: {\"type\":\"response.output_text.delta\",\"item_id\":\"m\",\"delta\":\"5555 4444 ok\"}\n\n").utf8)
            let stream = planted + chunking.body
            let whole = mask(stream, chunkSize: stream.count) { SSEMasker(policy: policy) }
            let cut = mask(stream, chunkSize: chunking.size) { SSEMasker(policy: policy) }
            agree(whole, cut, planted: ["jane.doe", "john.roe", "5555 5555"], fuzzed: chunking.body)
        },
        FuzzTarget(name: "ndjson-mask", summary: "an NDJSON stream, an email split across two Ollama lines in front") { input in
            let chunking = Chunking(input)
            let planted = Array(("{\"model\":\"m\",\"message\":{\"content\":\"mail kim.lee@\"},\"done\":false}\n"
                                 + "{\"model\":\"m\",\"message\":{\"content\":\"example.net ok\"},\"done\":false}\n").utf8)
            let stream = planted + chunking.body
            let whole = mask(stream, chunkSize: stream.count) { NDJSONMasker(policy: policy) }
            let cut = mask(stream, chunkSize: chunking.size) { NDJSONMasker(policy: policy) }
            agree(whole, cut, planted: ["kim.lee"], fuzzed: chunking.body)
        },
        FuzzTarget(name: "triton-mask", summary: "a Triton binary tensor answer: a header length (2 bytes), the JSON header and tensors") { input in
            guard input.count >= 2 else { return }
            let headerLength = Int(input[0]) | Int(input[1]) << 8
            let body = Array(input.dropFirst(2))
            let masker = TritonBinaryMasker(policy: policy, headerLength: headerLength, direction: .response, maxBytes: 1 << 20)
            guard let masked = try? masker.feed(body) + masker.finish() else { return }
            guard let length = masker.maskedHeaderLength, length <= masked.count,
                  case .object? = JSONValue.parse(Array(masked[..<length]), maxDepth: 128) else {
                violated("a masked answer starts with a JSON object as long as its new header length says: "
                         + String(decoding: masked.prefix(masker.maskedHeaderLength ?? 0), as: UTF8.self))
            }
        },
        FuzzTarget(name: "grpc-mask", summary: "gRPC response messages by a descriptor, one holding a card in front") { input in
            let chunking = Chunking(input)
            let text = Array("card \(card)".utf8)
            let message = [0x0A, UInt8(text.count)] + text
            let body = [0, 0, 0, 0, UInt8(message.count)] + message + chunking.body
            let whole = mask(body, chunkSize: body.count) { grpcMasker() }
            let cut = mask(body, chunkSize: chunking.size) { grpcMasker() }
            agree(whole, cut, planted: [card], fuzzed: chunking.body)
        },
    ]

    struct Outcome {
        var emitted: [UInt8] = []
        var failed: String?
    }

    protocol Masker { func feed(_ chunk: [UInt8]) throws(MaskingError) -> [UInt8]; func finish() throws(MaskingError) -> [UInt8] }

    static func mask<M: Masker>(_ body: [UInt8], chunkSize: Int, _ make: () -> M) -> Outcome {
        let masker = make()
        var outcome = Outcome()
        do {
            for start in stride(from: 0, to: body.count, by: max(1, chunkSize)) {
                outcome.emitted += try masker.feed(Array(body[start..<min(start + chunkSize, body.count)]))
            }
            outcome.emitted += try masker.finish()
        } catch {
            outcome.failed = error.message
        }
        return outcome
    }

    /// `fuzzed`: the part the fuzzer wrote; a planted value it happens to spell itself (as
    /// part of a longer number, say) may pass there.
    static func agree(_ whole: Outcome, _ cut: Outcome, planted: [String], fuzzed: [UInt8]) {
        if (whole.failed == nil) != (cut.failed == nil) {
            violated("the same body masks alike however it is cut (\(whole.failed ?? "ok") / \(cut.failed ?? "ok"))")
        }
        if whole.failed == nil, whole.emitted != cut.emitted { violated("the same body masks to the same bytes however it is cut") }
        for value in planted {
            let bytes = Array(value.utf8)
            if contains(fuzzed, bytes) { continue }
            for outcome in [whole, cut] where contains(outcome.emitted, bytes) { violated("a planted value never leaves: \(value)") }
        }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    /// `fuzz.Reply { string text = 1; repeated Reply replies = 2; map<string, string> labels = 3; bytes raw = 4; int64 n = 5; }`
    static let schema: ProtoSchema = {
        typealias Field = Google_Protobuf_FieldDescriptorProto
        func field(_ name: String, _ number: Int32, _ type: Field.TypeEnum, _ label: Field.Label = .optional,
                   _ typeName: String? = nil) -> Field {
            var field = Field()
            field.name = name
            field.number = number
            field.type = type
            field.label = label
            if let typeName { field.typeName = typeName }
            return field
        }
        var entry = Google_Protobuf_DescriptorProto()
        entry.name = "LabelsEntry"
        entry.field = [field("key", 1, .string), field("value", 2, .string)]
        entry.options.mapEntry = true
        var reply = Google_Protobuf_DescriptorProto()
        reply.name = "Reply"
        reply.field = [field("text", 1, .string), field("replies", 2, .message, .repeated, ".fuzz.Reply"),
                       field("labels", 3, .message, .repeated, ".fuzz.Reply.LabelsEntry"), field("raw", 4, .bytes),
                       field("n", 5, .int64)]
        reply.nestedType = [entry]
        var method = Google_Protobuf_MethodDescriptorProto()
        method.name = "Ask"
        method.inputType = ".fuzz.Reply"
        method.outputType = ".fuzz.Reply"
        var service = Google_Protobuf_ServiceDescriptorProto()
        service.name = "Model"
        service.method = [method]
        var file = Google_Protobuf_FileDescriptorProto()
        file.name = "fuzz.proto"
        file.package = "fuzz"
        file.syntax = "proto3"
        file.messageType = [reply]
        file.service = [service]
        var set = Google_Protobuf_FileDescriptorSet()
        set.file = [file]
        let bytes: [UInt8] = try! set.serializedBytes()
        return try! ProtoSchema.build(descriptorSets: [bytes])
    }()

    static func grpcMasker() -> GRPCMessageMasker {
        GRPCMessageMasker(policy: policy, schema: schema, type: schema.message(named: "fuzz.Reply")!, encoding: nil,
                          maxMessageBytes: 1 << 16)
    }
}

extension JSONMasker: MaskingTargets.Masker {}
extension SSEMasker: MaskingTargets.Masker {}
extension GRPCMessageMasker: MaskingTargets.Masker {}
extension NDJSONMasker: MaskingTargets.Masker {}
