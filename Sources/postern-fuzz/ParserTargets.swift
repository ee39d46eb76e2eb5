import NIOCore
import PosternAudit
import PosternClient
import PosternConfig
import PosternCore
import PosternJSON
import PosternProxy
import PosternStore

/// The smaller readers of untrusted bytes: request targets, JSON, the configuration file,
/// gRPC message framing, and what servers Postern talks to answer (PostgreSQL, a witness,
/// a webhook or admin endpoint), and the audit files `verify` reads back.
enum ParserTargets {
    static let all = [
        FuzzTarget(name: "path", summary: "a request target, normalised once for routing, policy and the model server") { input in
            let target = String(decoding: input, as: UTF8.self)
            guard case .success(let normal) = RequestTarget.normalize(target, allowAbsoluteForm: true) else { return }
            // Split on the byte, as servers do: as Characters, a "?" with a combining mark after
            // it is not "?" and the query would be read as path (a false alarm, found so).
            let path = String(decoding: normal.path.utf8.prefix { $0 != UInt8(ascii: "?") }, as: UTF8.self)
            for refused in ["/../", "/./", "\\", "%2f", "%2F", "%5c", "%5C", "//"] where path.contains(refused) {
                violated("a normal path holds no \(refused)")
            }
            let again = RequestTarget.normalize(normal.path, allowAbsoluteForm: false)
            guard case .success(let twice) = again, twice.path.utf8.elementsEqual(normal.path.utf8) else {
                violated("normalising a normal path changes nothing: \(normal.path.debugDescription) became \(again)")
            }
        },
        FuzzTarget(name: "json", summary: "JSON (token claims, request bodies, journal entries)") { input in
            guard let value = JSONValue.parse(input, maxDepth: 64) else { return }
            guard JSONValue.parse(Array(value.text.utf8), maxDepth: 64) == value else { violated("JSON reads back as itself") }
        },
        FuzzTarget(name: "config", summary: "the configuration file (YAML), every section validated") { input in
            _ = PosternConfig.parse(yaml: String(decoding: input, as: UTF8.self), file: "fuzz.yaml")
        },
        FuzzTarget(name: "grpc-framer", summary: "a gRPC request body cut into length-prefixed messages") { input in
            var framer = GRPCMessageFramer(limit: 1 << 12)
            var messages: [UInt8] = []
            for chunk in Chunking(input).chunks {
                guard case .success(let complete) = framer.feed(ByteBuffer(bytes: chunk).readableBytesView) else { return }
                for message in complete {
                    let length = message.dropFirst().prefix(4).reduce(0) { $0 << 8 | Int($1) }
                    if message.count != 5 + length { violated("a message is its prefix and as many bytes as it says") }
                    messages += message
                }
            }
            if !Chunking(input).body.starts(with: messages) { violated("messages are the body, in order") }
        },
        FuzzTarget(name: "postgres", summary: "PostgreSQL backend messages, as the journal store reads them") { input in
            var buffer = input
            while let message = try? PostgresMessage.next(&buffer) {
                switch message.type {
                case UInt8(ascii: "D"): _ = try? PostgresMessage.row(message.body)
                case UInt8(ascii: "E"), UInt8(ascii: "N"): _ = PostgresMessage.error(message.body)
                case UInt8(ascii: "R"): _ = PostgresMessage.uint32(message.body)
                default: _ = PostgresMessage.strings(message.body)
                }
            }
        },
        FuzzTarget(name: "http1-reply", summary: "an HTTP/1.1 reply to Postern's own client (witness, webhooks, admin)") { input in
            _ = HTTP1Client.parse(input, complete: false)
            _ = HTTP1Client.parse(input, complete: true)
        },
        FuzzTarget(name: "audit-line", summary: "a line of an audit file or of its standard-output copy") { input in
            _ = AuditLine.parse(input[...])
            if let original = ExportedLine.original(input[...]), original.count > input.count {
                violated("the leaf inside an exported line is no longer than the line")
            }
        },
        FuzzTarget(name: "signed-note", summary: "a checkpoint and its signatures, as a witness or a monitor returns it") { input in
            let note = String(decoding: input, as: UTF8.self)
            _ = Checkpoint(text: note)
            _ = SignedNote.parts(note)
            if SignedNote.open(note, key: noteKey) != nil { violated("a note without the key's signature does not open") }
            if let parts = SignedNote.parts(note),
               Cosignature.verify(parts.signatures, checkpointText: String(decoding: parts.text, as: UTF8.self), witness: witnessKey) != nil {
                violated("a cosignature without the witness's key does not verify")
            }
        },
    ]

    static let noteKey = try! NoteVerifierKey(name: "postern.example/log", publicKey: Array(repeating: 7, count: 32))
    static let witnessKey = try! NoteVerifierKey(name: "witness.example", publicKey: Array(repeating: 9, count: 32),
                                                 type: NoteVerifierKey.cosignatureV1)
}
