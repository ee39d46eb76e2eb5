/// KServe v2 / Triton raw tensors: `raw_output_contents[i]` carries `outputs[i]`'s data,
/// and a BYTES tensor lays out each element as a 4-byte little-endian length and its bytes.
extension ProtobufMasker {
    /// `datatype` and `name` of each tensor in the message, in order (nil where a tensor has
    /// none). Read before the walk, since nothing obliges a sender to write the tensors first.
    static func datatypes(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                          _ raw: ProtoSchema.RawTensors) throws(MaskingError) -> [(datatype: String?, name: String?)] {
        var types: [(datatype: String?, name: String?)] = []
        try ProtoWire.forEachField(buf, range) { (number, wire, value) throws(MaskingError) in
            guard number == raw.tensorsField, wire == ProtoWire.lengthDelimited else { return }
            var datatype: String?, name: String?  // the last one wins, as in any protobuf parser
            try ProtoWire.forEachField(buf, value) { (field, wire, text) throws(MaskingError) in
                guard wire == ProtoWire.lengthDelimited else { return }
                if field == raw.datatypeField { datatype = ProtoWire.text(buf, text) }
                if field == raw.nameField { name = ProtoWire.text(buf, text) }
            }
            types.append((datatype, name))
        }
        return types
    }

    /// One raw tensor. A BYTES tensor has its UTF-8 elements masked (and its lengths
    /// rewritten); a tensor of another type is numbers and stays. When no datatype says
    /// which (`datatype` nil), data that is exactly a BYTES layout is treated as one.
    mutating func rawTensor(_ value: UnsafeBufferPointer<UInt8>, datatype: String?) throws(MaskingError) -> Outcome {
        if let datatype, datatype != "BYTES" { return .keep }
        if datatype != nil, let name = rawName, streamedTensors.contains(name) { return try streamedTensor(value, name: name) }
        let elements: [Range<Int>]
        do {
            elements = try BytesTensor.elements(value)
        } catch {
            if datatype == nil { return .keep }  // not a BYTES layout, and nothing said it was one
            throw error
        }
        var changed = false
        let output = BytesTensor.rewrite(value, elements) { element in
            let masked = maskBytes(element, hint: nil)
            if masked != nil { changed = true }
            return masked
        }
        return changed ? .payload(output) : .keep
    }
}

extension ProtobufMasker {
    /// A BYTES output whose elements are pieces of texts streamed over the messages of a
    /// stream (`text_output` of Triton's LLM backends): element k continues the text of
    /// element k of the same output in the messages before. Each is released as `HeldText`
    /// allows; in the closing pass (`releasing`), each element is what its text still held.
    mutating func streamedTensor(_ value: UnsafeBufferPointer<UInt8>, name: String) throws(MaskingError) -> Outcome {
        let elements = try BytesTensor.elements(value)
        carriedStreamedTensor = true
        var texts: [[UInt8]] = []
        for (index, element) in elements.enumerated() {
            let key = "\(name)#\(index)"
            var held = heldTensors.removeValue(forKey: key) ?? HeldText()
            if releasing {
                texts.append(held.flush(policy: policy, findings: &findings))
            } else {
                texts.append(held.append(Array(UnsafeBufferPointer(rebasing: value[element])), policy: policy,
                                         findings: &findings))
                heldTensors[key] = held
            }
        }
        var next = 0
        return .payload(BytesTensor.rewrite(value, elements) { _ in
            defer { next += 1 }
            return texts[next]
        })
    }
}
