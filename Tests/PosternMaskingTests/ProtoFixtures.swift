import SwiftProtobuf
@testable import PosternMasking

/// Descriptor sets built in code (what protoc would write for these .proto shapes), and a
/// small protobuf encoder/decoder to make and read messages in tests.
enum ProtoFixtures {
    typealias FieldType = Google_Protobuf_FieldDescriptorProto.TypeEnum

    static func field(_ name: String, _ number: Int32, _ type: FieldType, repeated: Bool = false,
                      typeName: String? = nil, redact: Bool = false) -> Google_Protobuf_FieldDescriptorProto {
        var field = Google_Protobuf_FieldDescriptorProto()
        field.name = name
        field.number = number
        field.type = type
        field.label = repeated ? .repeated : .optional
        if let typeName { field.typeName = typeName }
        if redact { field.options.debugRedact = true }
        return field
    }

    static func message(_ name: String, _ fields: [Google_Protobuf_FieldDescriptorProto],
                        nested: [Google_Protobuf_DescriptorProto] = [], mapEntry: Bool = false) -> Google_Protobuf_DescriptorProto {
        var message = Google_Protobuf_DescriptorProto()
        message.name = name
        message.field = fields
        message.nestedType = nested
        if mapEntry { message.options.mapEntry = true }
        return message
    }

    static func mapEntry(_ name: String, value: FieldType, valueType: String? = nil) -> Google_Protobuf_DescriptorProto {
        message(name, [field("key", 1, .string), field("value", 2, value, typeName: valueType)], mapEntry: true)
    }

    /// A Triton / KServe v2 shaped inference.proto, and a record type with every field kind.
    static let inferenceSet: [UInt8] = {
        var file = Google_Protobuf_FileDescriptorProto()
        file.name = "inference.proto"
        file.package = "inference"
        file.syntax = "proto3"
        file.messageType = [
            message("InferParameter", [field("bool_param", 1, .bool), field("int64_param", 2, .int64),
                                       field("string_param", 3, .string)]),
            message("InferTensorContents", [field("int_contents", 2, .int32, repeated: true),
                                            field("int64_contents", 3, .int64, repeated: true),
                                            field("fp32_contents", 6, .float, repeated: true),
                                            field("bytes_contents", 8, .bytes, repeated: true)]),
            message("ModelInferResponse", [
                field("model_name", 1, .string), field("id", 3, .string),
                field("parameters", 4, .message, repeated: true, typeName: ".inference.ModelInferResponse.ParametersEntry"),
                field("outputs", 5, .message, repeated: true, typeName: ".inference.ModelInferResponse.InferOutputTensor"),
                field("raw_output_contents", 6, .bytes, repeated: true),
            ], nested: [
                mapEntry("ParametersEntry", value: .message, valueType: ".inference.InferParameter"),
                message("InferOutputTensor", [field("name", 1, .string), field("datatype", 2, .string),
                                              field("shape", 3, .int64, repeated: true),
                                              field("contents", 5, .message, typeName: ".inference.InferTensorContents")]),
            ]),
            message("Record", [
                field("note", 1, .string), field("secret", 2, .string, redact: true),
                field("account", 3, .int64, redact: true), field("card_number", 4, .int64),
                field("tags", 5, .string, repeated: true), field("child", 6, .message, typeName: ".inference.Record"),
                field("labels", 7, .message, repeated: true, typeName: ".inference.Record.LabelsEntry"),
                field("blob", 8, .bytes), field("legacy", 9, .group, typeName: ".inference.Record.Legacy"),
            ], nested: [
                mapEntry("LabelsEntry", value: .string),
                message("Legacy", [field("text", 10, .string)]),
            ]),
        ]
        var method = Google_Protobuf_MethodDescriptorProto()
        method.name = "ModelInfer"
        method.inputType = ".inference.Record"
        method.outputType = ".inference.ModelInferResponse"
        var service = Google_Protobuf_ServiceDescriptorProto()
        service.name = "GRPCInferenceService"
        service.method = [method]
        file.service = [service]
        var set = Google_Protobuf_FileDescriptorSet()
        set.file = [file]
        return try! set.serializedBytes()
    }()

    static let schema = try! ProtoSchema.build(descriptorSets: [inferenceSet])
    static let record = schema.message(named: "inference.Record")!
    static let response = schema.message(named: "inference.ModelInferResponse")!
}

/// Protobuf wire encoding for tests.
enum PB {
    static func varint(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        ProtoWire.appendVarint(value, to: &out)
        return out
    }
    static func tag(_ number: Int, _ wire: Int) -> [UInt8] { varint(UInt64(number << 3 | wire)) }
    static func bytes(_ number: Int, _ value: [UInt8]) -> [UInt8] { tag(number, 2) + varint(UInt64(value.count)) + value }
    static func string(_ number: Int, _ value: String) -> [UInt8] { bytes(number, Array(value.utf8)) }
    static func int(_ number: Int, _ value: UInt64) -> [UInt8] { tag(number, 0) + varint(value) }
    static func group(_ number: Int, _ content: [UInt8]) -> [UInt8] { tag(number, 3) + content + tag(number, 4) }
    static func entry(_ number: Int, _ key: String, _ value: [UInt8]) -> [UInt8] { bytes(number, string(1, key) + value) }
    /// A BYTES tensor: each element as a 4-byte little-endian length and its bytes.
    static func bytesTensor(_ elements: [String]) -> [UInt8] {
        elements.flatMap { element -> [UInt8] in
            let n = element.utf8.count
            return [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)] + Array(element.utf8)
        }
    }
    static func frame(_ message: [UInt8], compressed: Bool = false) -> [UInt8] {
        let n = message.count
        return [compressed ? 1 : 0, UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + message
    }

    /// The fields of a message, in order, as (number, wire type, raw value bytes).
    static func fields(_ message: [UInt8]) throws -> [(Int, Int, [UInt8])] {
        try message.withUnsafeBufferPointer { buf in
            var out: [(Int, Int, [UInt8])] = []
            var i = 0
            while i < buf.count {
                let (number, wire) = try ProtoWire.readTag(buf, &i, end: buf.count)
                var start = i
                if wire == 2 { _ = try ProtoWire.readVarint(buf, &start, end: buf.count) }
                let end = try ProtoWire.skip(buf, &i, end: buf.count, wireType: wire, number: number, depth: 0)
                out.append((number, wire, Array(buf[start..<(wire == 3 ? end : i)])))
            }
            return out
        }
    }

    /// The text of every length-delimited field with `number`.
    static func strings(_ message: [UInt8], _ number: Int) throws -> [String] {
        try fields(message).filter { $0.0 == number && $0.1 == 2 }.map { String(decoding: $0.2, as: UTF8.self) }
    }
}

/// One file in a set, for schema error tests.
struct SwiftProtobufFile {
    var messageType: [Google_Protobuf_DescriptorProto] = []
    var set: [UInt8] {
        var file = Google_Protobuf_FileDescriptorProto()
        file.name = "t.proto"
        file.messageType = messageType
        var set = Google_Protobuf_FileDescriptorSet()
        set.file = [file]
        return try! set.serializedBytes()
    }
}
