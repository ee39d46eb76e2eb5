/// Where a gRPC request message names its model: the field numbers of the model's name and
/// version (`ModelInferRequest.model_name` is 1, `RepositoryModelLoadRequest.model_name` 2).
public struct MessageModel: Sendable, Equatable {
    public var name: Int
    public var version: Int?

    public init(name: Int, version: Int? = nil) {
        self.name = name
        self.version = version
    }

    /// The model and version one serialized message names (empty is none, as in proto3),
    /// nil when the message is not well-formed protobuf or a name is not UTF-8. A field
    /// given twice counts as its last value, as every protobuf parser reads it.
    public func read(_ message: ArraySlice<UInt8>) -> (model: String?, version: String?)? {
        var modelBytes: ArraySlice<UInt8>?, versionBytes: ArraySlice<UInt8>?
        var i = message.startIndex
        while i < message.endIndex {
            guard let key = Self.varint(message, &i) else { return nil }
            let number = Int(truncatingIfNeeded: key >> 3)
            switch key & 7 {
            case 0:
                guard Self.varint(message, &i) != nil else { return nil }
            case 1, 5:
                let width = key & 7 == 1 ? 8 : 4
                guard message.endIndex - i >= width else { return nil }
                i += width
            case 2:
                guard let length = Self.varint(message, &i), length <= UInt64(message.endIndex - i) else { return nil }
                let value = message[i..<i + Int(length)]
                if number == name { modelBytes = value } else if number == version { versionBytes = value }
                i += Int(length)
            default:
                return nil  // groups are not used by these services
            }
        }
        func text(_ bytes: ArraySlice<UInt8>?) -> String?? {
            guard let bytes, !bytes.isEmpty else { return .some(nil) }
            return String(validating: bytes, as: UTF8.self).map { .some($0) } ?? nil
        }
        guard let modelText = text(modelBytes), let versionText = text(versionBytes) else { return nil }
        return (modelText, versionText)
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
