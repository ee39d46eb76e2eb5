import SwiftProtobuf

extension ProtoSchema {
    /// The schema of the FileDescriptorSets in `sets` (as `protoc --descriptor_set_out
    /// --include_imports` writes them). A set that does not decode, or a field whose type
    /// is in none of the sets, is an error: masking by a half-understood schema would let
    /// fields through unread.
    public static func build(descriptorSets sets: [[UInt8]]) throws(MaskingError) -> ProtoSchema {
        var files: [Google_Protobuf_FileDescriptorProto] = []
        for (index, bytes) in sets.enumerated() {
            do {
                files += try Google_Protobuf_FileDescriptorSet(serializedBytes: bytes).file
            } catch {
                throw MaskingError("descriptor set \(index + 1) is not a FileDescriptorSet (\(error))")
            }
        }
        var schema = ProtoSchema()
        // First every message name, so fields can refer to messages declared anywhere.
        var declared: [(name: String, proto: Google_Protobuf_DescriptorProto)] = []
        func declare(_ message: Google_Protobuf_DescriptorProto, scope: String) {
            let name = scope.isEmpty ? message.name : "\(scope).\(message.name)"
            guard schema.messageIndex[name] == nil else { return }  // a file imported twice
            schema.messageIndex[name] = declared.count
            declared.append((name, message))
            for nested in message.nestedType { declare(nested, scope: name) }
        }
        for file in files {
            for message in file.messageType { declare(message, scope: file.package) }
        }
        for (name, proto) in declared {
            schema.messages.append(try message(name, proto, in: schema))
        }
        for index in schema.messages.indices {
            schema.messages[index].rawTensors = schema.rawTensors(of: schema.messages[index])
        }
        for file in files {
            for service in file.service {
                let serviceName = file.package.isEmpty ? service.name : "\(file.package).\(service.name)"
                for method in service.method {
                    guard let input = schema.message(named: method.inputType),
                          let output = schema.message(named: method.outputType) else {
                        throw MaskingError("method \(serviceName).\(method.name) uses a message the descriptor sets do not define")
                    }
                    schema.methods["/\(serviceName)/\(method.name)"] = Method(input: input, output: output)
                }
            }
        }
        return schema
    }

    private static func message(_ name: String, _ proto: Google_Protobuf_DescriptorProto,
                                in schema: ProtoSchema) throws(MaskingError) -> Message {
        var fields: [Int: Field] = [:]
        for field in proto.field {
            let number = Int(field.number)
            guard number >= 1, number < 1 << 29, fields[number] == nil else {
                throw MaskingError("\(name).\(field.name): field number \(number) is invalid or repeated")
            }
            let kind: Field.Kind
            var wireType: Int
            switch field.type {
            case .string: (kind, wireType) = (.string, 2)
            case .bytes: (kind, wireType) = (.bytes, 2)
            case .message, .group:
                guard let target = schema.message(named: field.typeName) else {
                    throw MaskingError("\(name).\(field.name): type \(field.typeName) is not in the descriptor sets")
                }
                (kind, wireType) = field.type == .group ? (.group(target), 3) : (.message(target), 2)
            case .int64, .uint64, .sint64: (kind, wireType) = (.integer64, 0)
            case .fixed64, .sfixed64, .double: (kind, wireType) = (.scalar, 1)
            case .fixed32, .sfixed32, .float: (kind, wireType) = (.scalar, 5)
            case .int32, .uint32, .sint32, .bool, .enum: (kind, wireType) = (.scalar, 0)
            }
            let repeated = field.label == .repeated
            if repeated, kind == .scalar || kind == .integer64 { wireType = -1 }  // packed or not: either is fine
            fields[number] = Field(name: field.name, lowerName: field.name.lowercased(), number: number, kind: kind,
                                   repeated: repeated, debugRedact: field.options.debugRedact, wireType: wireType)
        }
        return Message(name: name, fields: fields, isMapEntry: proto.options.mapEntry, rawTensors: nil)
    }

    /// Recognises KServe v2's `raw_output_contents`/`outputs` (and the request side's
    /// `raw_input_contents`/`inputs`) pairing by the names the protocol gives them.
    private func rawTensors(of message: Message) -> RawTensors? {
        for (rawName, tensorsName) in [("raw_output_contents", "outputs"), ("raw_input_contents", "inputs")] {
            guard let raw = message.fields.values.first(where: { $0.name == rawName }), raw.kind == .bytes, raw.repeated,
                  let tensors = message.fields.values.first(where: { $0.name == tensorsName }), tensors.repeated,
                  case .message(let tensorIndex) = tensors.kind,
                  let datatype = messages[tensorIndex].fields.values.first(where: { $0.name == "datatype" }),
                  datatype.kind == .string else { continue }
            let name = messages[tensorIndex].fields.values.first { $0.name == "name" && $0.kind == .string }
            return RawTensors(rawField: raw.number, tensorsField: tensors.number, datatypeField: datatype.number,
                              nameField: name?.number)
        }
        return nil
    }
}
