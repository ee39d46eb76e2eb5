/// KServe v2 / Triton raw tensors: `raw_output_contents[i]` carries `outputs[i]`'s data,
/// and a BYTES tensor lays out each element as a 4-byte little-endian length and its bytes.
extension ProtobufMasker {
    /// `datatype` of each tensor in the message, in order (nil where a tensor has none).
    /// Read before the walk, since nothing obliges a sender to write the tensors first.
    static func datatypes(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                          _ raw: ProtoSchema.RawTensors) throws(MaskingError) -> [String?] {
        var types: [String?] = []
        try ProtoWire.forEachField(buf, range) { (number, wire, value) throws(MaskingError) in
            guard number == raw.tensorsField, wire == ProtoWire.lengthDelimited else { return }
            var datatype: String?  // the last one wins, as in any protobuf parser
            try ProtoWire.forEachField(buf, value) { (field, wire, text) throws(MaskingError) in
                if field == raw.datatypeField, wire == ProtoWire.lengthDelimited { datatype = ProtoWire.text(buf, text) }
            }
            types.append(datatype)
        }
        return types
    }

    /// One raw tensor. A BYTES tensor has its UTF-8 elements masked (and its lengths
    /// rewritten); a tensor of another type is numbers and stays. When no datatype says
    /// which (`datatype` nil), data that is exactly a BYTES layout is treated as one.
    mutating func rawTensor(_ value: UnsafeBufferPointer<UInt8>, datatype: String?) throws(MaskingError) -> Outcome {
        if let datatype, datatype != "BYTES" { return .keep }
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
