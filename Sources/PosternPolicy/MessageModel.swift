import PosternJSON

/// Where a gRPC request message names its model: the field numbers of the model's name and
/// version (`ModelInferRequest.model_name` is 1, `RepositoryModelLoadRequest.model_name` 2),
/// and of its `map<string, InferParameter>` parameters where it has them (4 in
/// `ModelInferRequest`), which the parameter guard reads.
public struct MessageModel: Sendable, Equatable {
    public var name: Int
    public var version: Int?
    public var parameters: Int?

    public init(name: Int, version: Int? = nil, parameters: Int? = nil) {
        self.name = name
        self.version = version
        self.parameters = parameters
    }

    /// What one message says: its model, version and parameters.
    public struct Facts: Sendable, Equatable {
        public var model: String?
        public var version: String?
        public var parameters: [String: JSONValue] = [:]

        /// The message as the parameter guard reads a body: `{"model_name", "parameters"}`.
        public func body(size: Int) -> RequestBody {
            var members: [String: JSONValue] = ["parameters": .object(parameters)]
            if let model { members["model_name"] = .string(model) }
            return RequestBody(json: .object(members), model: model, size: size)
        }
    }

    /// The model and version one serialized message names (empty is none, as in proto3),
    /// nil when the message is not well-formed protobuf or a name is not UTF-8. A field
    /// given twice counts as its last value, and a map key given twice as its last entry,
    /// as every protobuf parser reads them.
    public func read(_ message: ArraySlice<UInt8>) -> Facts? {
        var facts = Facts()
        var modelBytes: ArraySlice<UInt8>?, versionBytes: ArraySlice<UInt8>?
        guard Self.fields(message, { number, wire, payload in
            guard wire == 2 else { return true }
            if number == name {
                modelBytes = payload.bytes
            } else if number == version {
                versionBytes = payload.bytes
            } else if number == parameters {
                guard let (key, parameter) = Self.parameter(payload.bytes) else { return false }
                facts.parameters[key] = parameter
            }
            return true
        }) else { return nil }
        func text(_ bytes: ArraySlice<UInt8>?) -> String?? {
            guard let bytes, !bytes.isEmpty else { return .some(nil) }
            return String(validating: bytes, as: UTF8.self).map { .some($0) } ?? nil
        }
        guard let modelText = text(modelBytes), let versionText = text(versionBytes) else { return nil }
        facts.model = modelText
        facts.version = versionText
        return facts
    }

    /// One map entry: `key = 1` (string), `value = 2` (`InferParameter`: a oneof of
    /// `bool_param = 1`, `int64_param = 2`, `string_param = 3`, `double_param = 4`,
    /// `uint64_param = 5`; the last one set counts).
    static func parameter(_ entry: ArraySlice<UInt8>) -> (String, JSONValue)? {
        var key = "", value = JSONValue.null
        guard fields(entry, { number, wire, payload in
            if number == 1, wire == 2 {
                guard let text = String(validating: payload.bytes, as: UTF8.self) else { return false }
                key = text
            } else if number == 2, wire == 2 {
                return fields(payload.bytes) { number, wire, inner in
                    switch (number, wire) {
                    case (1, 0): value = .bool(inner.varint != 0)
                    case (2, 0): value = .number(Double(Int64(bitPattern: inner.varint)))
                    case (5, 0): value = .number(Double(inner.varint))
                    case (4, 1): value = .number(Double(bitPattern: inner.fixed64))
                    case (3, 2):
                        guard let text = String(validating: inner.bytes, as: UTF8.self) else { return false }
                        value = .string(text)
                    default: break
                    }
                    return true
                }
            }
            return true
        }) else { return nil }
        if case .number(let n) = value, !n.isFinite { return nil }  // NaN or infinity: no bound holds
        return (key, value)
    }

    /// A field's payload: its varint, its 8 bytes, or its bytes, by wire type.
    struct Payload {
        var varint: UInt64 = 0
        var fixed64: UInt64 = 0
        var bytes: ArraySlice<UInt8> = []
    }

    /// Walks a message's fields; false when it is malformed or `body` says so.
    static func fields(_ message: ArraySlice<UInt8>, _ body: (Int, UInt64, Payload) -> Bool) -> Bool {
        var i = message.startIndex
        while i < message.endIndex {
            guard let key = varint(message, &i) else { return false }
            var payload = Payload()
            switch key & 7 {
            case 0:
                guard let value = varint(message, &i) else { return false }
                payload.varint = value
            case 1:
                guard message.endIndex - i >= 8 else { return false }
                payload.fixed64 = message[i..<i + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) }
                i += 8
            case 5:
                guard message.endIndex - i >= 4 else { return false }
                i += 4
            case 2:
                guard let length = varint(message, &i), length <= UInt64(message.endIndex - i) else { return false }
                payload.bytes = message[i..<i + Int(length)]
                i += Int(length)
            default:
                return false
            }
            guard body(Int(truncatingIfNeeded: key >> 3), key & 7, payload) else { return false }
        }
        return true
    }

    private static func varint(_ bytes: ArraySlice<UInt8>, _ i: inout Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while i < bytes.endIndex, shift < 64 {
            let byte = bytes[i]
            i += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}
