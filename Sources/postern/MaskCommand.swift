import PosternCore
import PosternConfig
import PosternMasking

#if canImport(Glibc)
import Glibc
#endif

/// `postern mask`: a policy applied to standard input, streaming, as the data path would.
enum MaskCommand {
    static func run(config: PosternConfig, _ options: MaskOptions) -> Int32 {
        let name = options.policy ?? "default"
        guard var settings = config.masking.first(where: { $0.name == name }) else {
            Stderr.line("postern mask: no masking policy called '\(name)' in the configuration")
            return 1
        }
        settings.descriptorSets += options.descriptorSets
        let policy: MaskingPolicy
        switch MaskingPolicy.build(settings) {
        case .success(let built): policy = built
        case .failure(let error):
            Stderr.line("postern mask: \(error)")
            return 1
        }
        let stream: ResponseMasker
        switch options.format {
        case "sse": stream = .sse(SSEMasker(policy: policy))
        case "ndjson": stream = .ndjson(NDJSONMasker(policy: policy))
        case "text": stream = .text(TextStreamMasker(policy: policy))
        case "grpc", "protobuf":
            guard let schema = policy.protoSchema else {
                Stderr.line("postern mask: no descriptor sets (masking.\(name).descriptor_sets or --descriptor-set)")
                return 1
            }
            guard let typeName = options.messageType, let type = schema.message(named: typeName) else {
                Stderr.line("postern mask: no message type '\(options.messageType ?? "")' in the descriptor sets")
                return 1
            }
            if options.format == "protobuf" { return maskOneMessage(policy: policy, schema: schema, type: type) }
            stream = .grpc(GRPCMessageMasker(policy: policy, schema: schema, type: type, encoding: nil,
                                             maxMessageBytes: policy.maxMessageBytes))
        default: stream = .json(JSONMasker(policy: policy))
        }
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        do throws(MaskingError) {
            while true {
                let n = read(0, &chunk, chunk.count)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                FileDescriptor.writeAll(1, try stream.feed(Array(chunk[0..<n])))
            }
            FileDescriptor.writeAll(1, try stream.finish())
        } catch {
            Stderr.line("postern mask: \(error)")
            return 1
        }
        return 0
    }

    /// A single protobuf message (not gRPC-framed): read whole, masked, written.
    private static func maskOneMessage(policy: MaskingPolicy, schema: ProtoSchema, type: Int) -> Int32 {
        var message: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = read(0, &chunk, chunk.count)
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            message += chunk[0..<n]
            guard message.count <= policy.maxMessageBytes else {
                Stderr.line("postern mask: the message is over max_message_bytes (\(policy.maxMessageBytes))")
                return 1
            }
        }
        var masker = ProtobufMasker(policy: policy, schema: schema)
        do throws(MaskingError) {
            FileDescriptor.writeAll(1, try masker.mask(message, type: type) ?? message)
        } catch {
            Stderr.line("postern mask: \(error)")
            return 1
        }
        return 0
    }
}
