/// The masker for one response body, chosen by its content type.
public enum ResponseMasker {
    case json(JSONMasker)
    case sse(SSEMasker)
    case ndjson(NDJSONMasker)
    case text(TextStreamMasker)
    case grpc(GRPCMessageMasker)
    case triton(TritonBinaryMasker)

    /// The masker for gRPC method `method`'s responses (by the policy's descriptor sets),
    /// or an error saying why they cannot be masked.
    public static func grpc(method: String, encoding: String?, policy: MaskingPolicy) -> Result<ResponseMasker, MaskingError> {
        guard let schema = policy.protoSchema else {
            return .failure(MaskingError("masking policy '\(policy.name)' has no descriptor_sets for gRPC messages"))
        }
        guard let types = schema.methods[method] else {
            return .failure(MaskingError("masking policy '\(policy.name)': \(method) is not in its descriptor sets"))
        }
        let streamed = method.hasSuffix("/ModelStreamInfer") ? policy.streamedTensors : []
        return .success(.grpc(GRPCMessageMasker(policy: policy, schema: schema, type: types.output, encoding: encoding,
                                                maxMessageBytes: policy.maxMessageBytes, streamedTensors: streamed)))
    }

    /// The masker for `contentType` (its media type, parameters ignored), or nil for a
    /// type Postern cannot mask.
    public init?(contentType: String, policy: MaskingPolicy) {
        switch MediaType.kind(of: contentType) {
        case .json: self = .json(JSONMasker(policy: policy))
        case .sse: self = .sse(SSEMasker(policy: policy))
        case .ndjson: self = .ndjson(NDJSONMasker(policy: policy))
        case .text: self = .text(TextStreamMasker(policy: policy))
        case nil: return nil
        }
    }

    public func feed(_ chunk: [UInt8]) throws(MaskingError) -> [UInt8] {
        switch self {
        case .json(let masker): try masker.feed(chunk)
        case .sse(let masker): try masker.feed(chunk)
        case .ndjson(let masker): try masker.feed(chunk)
        case .text(let masker): masker.feed(chunk)
        case .grpc(let masker): try masker.feed(chunk)
        case .triton(let masker): try masker.feed(chunk)
        }
    }

    public func finish() throws(MaskingError) -> [UInt8] {
        switch self {
        case .json(let masker): try masker.finish()
        case .sse(let masker): try masker.finish()
        case .ndjson(let masker): try masker.finish()
        case .text(let masker): masker.finish()
        case .grpc(let masker): try masker.finish()
        case .triton(let masker): try masker.finish()
        }
    }

    /// Values masked so far, by kind.
    public var findings: [EntityKind: Int] {
        switch self {
        case .json(let masker): masker.findings
        case .sse(let masker): masker.findings
        case .ndjson(let masker): masker.findings
        case .text(let masker): masker.findings
        case .grpc(let masker): masker.findings
        case .triton(let masker): masker.findings
        }
    }

    /// Events of a stream no format describes, masked each on its own.
    public var unmatchedEvents: Int {
        switch self {
        case .sse(let masker): masker.unmatchedEvents
        case .ndjson(let masker): masker.unmatchedEvents
        case .json, .text, .grpc, .triton: 0
        }
    }

    /// Head fields the masked body changes, known once it is finished.
    public var headUpdates: [(name: String, value: String)] {
        if case .triton(let masker) = self, let length = masker.maskedHeaderLength {
            return [("inference-header-content-length", String(length))]
        }
        return []
    }
}

/// Plain text as it streams: the same held-back tail as SSE content.
public final class TextStreamMasker {
    public let policy: MaskingPolicy
    public private(set) var findings: [EntityKind: Int] = [:]
    private var held = HeldText()

    public init(policy: MaskingPolicy) { self.policy = policy }

    public func feed(_ chunk: [UInt8]) -> [UInt8] { held.append(chunk, policy: policy, findings: &findings) }
    public func finish() -> [UInt8] { held.flush(policy: policy, findings: &findings) }
}
