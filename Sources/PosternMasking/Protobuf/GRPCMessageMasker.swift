/// Masks a gRPC message stream as its DATA frames arrive: each length-prefixed message is
/// reassembled (however the frames cut it), decompressed if it came compressed, masked by
/// its protobuf type and sent on uncompressed with its new length. A message larger than
/// `maxMessageBytes`, a compression Postern cannot read, or a stream that ends inside a
/// message is an error.
public final class GRPCMessageMasker {
    public let maxMessageBytes: Int
    private var masker: ProtobufMasker
    private let type: Int
    /// `grpc-encoding` of the stream, used for messages flagged compressed.
    private let encoding: String
    private var pending: [UInt8] = []
    /// The last message that carried a streamed tensor, as it came (uncompressed): the
    /// template of the message that releases what the texts hold when the stream ends.
    private var lastMessage: [UInt8]?

    /// `streamedTensors`: outputs whose BYTES elements are pieces of one text across the
    /// stream's messages (a ModelStreamInfer stream of an LLM's tokens).
    public init(policy: MaskingPolicy, schema: ProtoSchema, type: Int, encoding: String?,
                maxMessageBytes: Int = 4 << 20, streamedTensors: Set<String> = []) {
        masker = ProtobufMasker(policy: policy, schema: schema)
        masker.streamedTensors = streamedTensors
        self.type = type
        self.encoding = encoding?.lowercased() ?? "identity"
        self.maxMessageBytes = maxMessageBytes
    }

    public var findings: [EntityKind: Int] { masker.findings }

    public func feed(_ chunk: [UInt8]) throws(MaskingError) -> [UInt8] {
        pending += chunk
        var output: [UInt8] = []
        var start = 0
        while pending.count - start >= 5 {
            let length = Int(pending[start + 1]) << 24 | Int(pending[start + 2]) << 16
                | Int(pending[start + 3]) << 8 | Int(pending[start + 4])
            guard length <= maxMessageBytes else {
                throw MaskingError("a gRPC message of \(length) bytes is over the \(maxMessageBytes)-byte masking limit")
            }
            guard pending.count - start - 5 >= length else { break }
            let flag = pending[start]
            let body = start + 5..<start + 5 + length
            try emit(flag: flag, body: body, into: &output)
            start = body.upperBound
        }
        pending.removeFirst(start)
        return output
    }

    public func finish() throws(MaskingError) -> [UInt8] {
        guard pending.isEmpty else { throw MaskingError("the gRPC stream ended inside a message") }
        var output: [UInt8] = []
        try release(into: &output)
        return output
    }

    private func frame(_ message: [UInt8], into output: inout [UInt8]) {
        let n = message.count
        output += [0, UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
        output += message
    }

    private func emit(flag: UInt8, body: Range<Int>, into output: inout [UInt8]) throws(MaskingError) {
        var message: [UInt8]
        switch flag {
        case 0:
            let masked = try pending.withUnsafeBufferPointer { all throws(MaskingError) in
                try masker.mask(UnsafeBufferPointer(rebasing: all[body]), type: type)
            }
            if masker.carriedStreamedTensor { lastMessage = Array(pending[body]) }
            guard let masked else {
                if !masker.carriedStreamedTensor { try release(into: &output) }
                output.append(contentsOf: pending[(body.lowerBound - 5)..<body.upperBound])
                return
            }
            message = masked
        case 1:
            guard encoding == "gzip" || encoding == "deflate" else {
                throw MaskingError("a gRPC message compressed as '\(encoding)', which Postern cannot read")
            }
            let inflated = try pending.withUnsafeBufferPointer { all throws(MaskingError) in
                try Inflater.inflate(UnsafeBufferPointer(rebasing: all[body]), limit: maxMessageBytes)
            }
            message = try masker.mask(inflated, type: type) ?? inflated
            if masker.carriedStreamedTensor { lastMessage = inflated }
        default:
            throw MaskingError("a gRPC message with compression flag \(flag)")
        }
        if !masker.carriedStreamedTensor { try release(into: &output) }
        frame(message, into: &output)
    }

    /// What streamed tensors hold, in a copy of the last message that carried them: before a
    /// message that carries none (Triton's final response of a request), or at the end.
    private func release(into output: inout [UInt8]) throws(MaskingError) {
        guard masker.holdsStreamedText, let template = lastMessage else { return }
        lastMessage = nil
        frame(try masker.releasing(template, type: type), into: &output)
    }
}
