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
        var elements: [Range<Int>] = []
        var i = 0
        while i < value.count {
            guard value.count - i >= 4 else {
                if datatype == nil { return .keep }
                throw MaskingError("a BYTES tensor's element length runs past the end")
            }
            let length = Int(value[i]) | Int(value[i + 1]) << 8 | Int(value[i + 2]) << 16 | Int(value[i + 3]) << 24
            i += 4
            guard length <= value.count - i else {
                if datatype == nil { return .keep }
                throw MaskingError("a BYTES tensor's element runs past the end")
            }
            elements.append(i..<(i + length))
            i += length
        }
        var masked: [[UInt8]?] = []
        for element in elements { masked.append(maskBytes(UnsafeBufferPointer(rebasing: value[element]), hint: nil)) }
        guard masked.contains(where: { $0 != nil }) else { return .keep }
        var output: [UInt8] = []
        output.reserveCapacity(value.count)
        for (element, replacement) in zip(elements, masked) {
            let count = replacement?.count ?? element.count
            output += [UInt8(count & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count >> 16 & 0xFF), UInt8(count >> 24 & 0xFF)]
            if let replacement { output += replacement } else {
                output.append(contentsOf: UnsafeBufferPointer(rebasing: value[element]))
            }
        }
        return .payload(output)
    }
}
