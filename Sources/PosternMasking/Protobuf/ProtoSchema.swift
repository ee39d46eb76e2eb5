/// What the protobuf masker needs to know of a set of .proto files: per message, its
/// fields by number with their types, and per gRPC method, its request and response
/// message. Built once from a FileDescriptorSet (see ProtoSchema+Descriptor); message
/// types refer to each other by index, so walking a message does no name lookups.
public struct ProtoSchema: Sendable {
    public struct Field: Sendable {
        public enum Kind: Sendable, Equatable {
            case string
            case bytes
            /// A nested message (or a map entry), by index into `messages`.
            case message(Int)
            /// A proto2 group: a nested message between start and end tags.
            case group(Int)
            /// 64-bit integers, where a card number written as a number can hide.
            case integer64
            /// Any other scalar (and enums): nothing to scan.
            case scalar
        }

        public var name: String
        /// `name` in lower case, for field rules (which ignore case).
        public var lowerName: String
        public var number: Int
        public var kind: Kind
        public var repeated: Bool
        /// `[debug_redact = true]`: the value is sensitive by declaration.
        public var debugRedact: Bool
        /// The wire type the field's values use (packed repeated scalars use 2 as well).
        public var wireType: Int
    }

    /// KServe v2 / Triton: `raw_output_contents[i]` holds the bytes of `outputs[i]`, and a
    /// BYTES tensor's elements are each a 4-byte little-endian length and that many bytes.
    public struct RawTensors: Sendable {
        public var rawField: Int
        public var tensorsField: Int
        /// The `datatype` field of the tensor message.
        public var datatypeField: Int
        /// Its `name` field.
        public var nameField: Int?
    }

    public struct Message: Sendable {
        public var name: String
        public var fields: [Int: Field]
        public var isMapEntry: Bool
        public var rawTensors: RawTensors?
    }

    public struct Method: Sendable {
        public var input: Int
        public var output: Int
    }

    public internal(set) var messages: [Message] = []
    /// Fully qualified names (`inference.ModelInferResponse`) to indices.
    public internal(set) var messageIndex: [String: Int] = [:]
    /// gRPC paths (`/inference.GRPCInferenceService/ModelInfer`) to their messages.
    public internal(set) var methods: [String: Method] = [:]

    public init() {}

    public func message(named name: String) -> Int? {
        messageIndex[name.hasPrefix(".") ? String(name.dropFirst()) : name]
    }
}
