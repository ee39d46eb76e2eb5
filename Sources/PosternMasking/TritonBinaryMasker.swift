/// Triton's binary tensor data extension over HTTP (`tritonclient.http` asks for it by
/// default): a JSON header of `Inference-Header-Content-Length` bytes, then the raw data
/// of each tensor whose `parameters.binary_data_size` says so, in the header's order
/// (`outputs` in an answer, `inputs` in a request). The body is read whole (up to
/// `maxBytes`); the header is masked as JSON; a `BYTES` tensor's elements (each a 4-byte
/// little-endian length and its bytes) are masked as text when UTF-8, their lengths and
/// `binary_data_size` rewritten; numeric tensors are copied. Anything inconsistent (sizes
/// that disagree with the shape and datatype, bytes left over or missing) fails closed.
public final class TritonBinaryMasker {
    public enum Direction: Sendable { case request, response }

    public let policy: MaskingPolicy
    public let headerLength: Int
    public let direction: Direction
    public let maxBytes: Int
    public private(set) var findings: [EntityKind: Int] = [:]
    /// The masked header's length, for the new `Inference-Header-Content-Length`.
    public private(set) var maskedHeaderLength: Int?
    private var body: [UInt8] = []

    public init(policy: MaskingPolicy, headerLength: Int, direction: Direction, maxBytes: Int = 64 << 20) {
        self.policy = policy
        self.headerLength = headerLength
        self.direction = direction
        self.maxBytes = maxBytes
    }

    /// `Inference-Header-Content-Length` as a length: digits only.
    public static func headerLength(_ field: String) -> Int? {
        guard (1...12).contains(field.utf8.count), field.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Int(field)
    }

    public func feed(_ chunk: [UInt8]) throws(MaskingError) -> [UInt8] {
        guard chunk.count <= maxBytes - body.count else {
            throw MaskingError("a binary tensor body is longer than \(maxBytes) bytes")
        }
        body += chunk
        return []  // nothing leaves before the whole body is read
    }

    public func finish() throws(MaskingError) -> [UInt8] {
        guard headerLength <= body.count else {
            throw MaskingError("Inference-Header-Content-Length \(headerLength) is longer than the body (\(body.count) bytes)")
        }
        guard var header = JSONNode.parse(Array(body[..<headerLength])), case .object = header else {
            throw MaskingError("the JSON header of a binary tensor body is not a JSON object")
        }
        // A name twice in one object is read as its first by Postern and as its last by most
        // clients: a tensor Postern takes for FP32 a client could read as BYTES, unmasked.
        guard !header.hasRepeatedMember else {
            throw MaskingError("the JSON header of a binary tensor body names a member twice in one object")
        }
        let listName = direction == .response ? "outputs" : "inputs"
        var data: [UInt8] = []
        var offset = headerLength
        if case .array(var tensors)? = header[listName] {
            for index in tensors.indices {
                guard let size = try Self.binarySize(tensors[index]) else { continue }
                guard size <= body.count - offset else {
                    throw MaskingError("tensor \(index)'s binary_data_size runs past the end of the body")
                }
                let tensor = tensors[index], start = offset
                let masked = try body.withUnsafeBufferPointer { (all) throws(MaskingError) -> [UInt8] in
                    try maskTensor(tensor, UnsafeBufferPointer(rebasing: all[start..<(start + size)]))
                }
                offset += size
                data += masked
                tensors[index][path: ["parameters", "binary_data_size"]] = .number(Array(String(masked.count).utf8))
            }
            header[listName] = .array(tensors)
        }
        guard offset == body.count else {
            throw MaskingError("\(body.count - offset) bytes follow the tensors a binary tensor body declares")
        }
        var written: [UInt8] = []
        header.write(into: &written)
        let jsonMasker = JSONMasker(policy: policy)
        let maskedHeader = try jsonMasker.feed(written) + jsonMasker.finish()
        for (kind, count) in jsonMasker.findings { findings[kind, default: 0] += count }
        maskedHeaderLength = maskedHeader.count
        body = []
        return maskedHeader + data
    }

    /// A tensor's `parameters.binary_data_size`, nil when it has none (its data is JSON).
    private static func binarySize(_ tensor: JSONNode) throws(MaskingError) -> Int? {
        guard let size = tensor[path: ["parameters", "binary_data_size"]] else { return nil }
        guard case .number(let digits) = size, digits.allSatisfy({ (0x30...0x39).contains($0) }), digits.count <= 12,
              let value = Int(String(decoding: digits, as: UTF8.self)) else {
            throw MaskingError("a binary_data_size that is not a non-negative integer")
        }
        return value
    }

    private func maskTensor(_ tensor: JSONNode, _ raw: UnsafeBufferPointer<UInt8>) throws(MaskingError) -> [UInt8] {
        guard case .string(let type)? = tensor["datatype"] else { throw MaskingError("a binary tensor without a datatype") }
        let datatype = String(decoding: type, as: UTF8.self)
        let elements = try Self.elementCount(tensor["shape"])
        if datatype == "BYTES" {
            let ranges = try BytesTensor.elements(raw)
            if let elements, ranges.count != elements {
                throw MaskingError("a BYTES tensor holds \(ranges.count) elements, its shape says \(elements)")
            }
            return BytesTensor.rewrite(raw, ranges) { element in
                guard Byte.isValidUTF8(element), let masked = policy.mask(element) else { return nil }
                for kind in masked.kinds { findings[kind, default: 0] += 1 }
                return masked.bytes
            }
        }
        guard let width = Self.widths[datatype] else { throw MaskingError("a binary tensor of unknown datatype \(datatype)") }
        if let elements, elements.multipliedReportingOverflow(by: width) != (raw.count, false) {
            throw MaskingError("a \(datatype) tensor of \(raw.count) bytes, its shape says \(elements) elements")
        }
        return Array(raw)
    }

    /// The product of the shape's dimensions; nil when the shape is missing.
    private static func elementCount(_ shape: JSONNode?) throws(MaskingError) -> Int? {
        guard let shape else { return nil }
        guard case .array(let dims) = shape else { throw MaskingError("a tensor shape that is not a list") }
        var count = 1
        for dim in dims {
            guard case .number(let digits) = dim, digits.count <= 12, digits.allSatisfy({ (0x30...0x39).contains($0) }),
                  let value = Int(String(decoding: digits, as: UTF8.self)) else {
                throw MaskingError("a tensor dimension that is not a non-negative integer")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: value)
            guard !overflow else { throw MaskingError("a tensor shape too large") }
            count = product
        }
        return count
    }

    /// Bytes per element of the KServe v2 numeric datatypes.
    static let widths: [String: Int] = [
        "BOOL": 1, "UINT8": 1, "INT8": 1, "UINT16": 2, "INT16": 2, "FP16": 2, "BF16": 2,
        "UINT32": 4, "INT32": 4, "FP32": 4, "UINT64": 8, "INT64": 8, "FP64": 8,
    ]
}

/// The layout of a KServe v2 / Triton `BYTES` tensor: each element a 4-byte little-endian
/// length and that many bytes.
enum BytesTensor {
    static func elements(_ raw: UnsafeBufferPointer<UInt8>) throws(MaskingError) -> [Range<Int>] {
        var elements: [Range<Int>] = []
        var i = 0
        while i < raw.count {
            guard raw.count - i >= 4 else { throw MaskingError("a BYTES tensor's element length runs past the end") }
            let length = Int(raw[i]) | Int(raw[i + 1]) << 8 | Int(raw[i + 2]) << 16 | Int(raw[i + 3]) << 24
            i += 4
            guard length <= raw.count - i else { throw MaskingError("a BYTES tensor's element runs past the end") }
            elements.append(i..<(i + length))
            i += length
        }
        return elements
    }

    /// `raw` with each element replaced by `mask`'s answer (nil keeps it), lengths rewritten.
    static func rewrite(_ raw: UnsafeBufferPointer<UInt8>, _ elements: [Range<Int>],
                        _ mask: (UnsafeBufferPointer<UInt8>) -> [UInt8]?) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        for element in elements {
            let bytes = UnsafeBufferPointer(rebasing: raw[element])
            let replacement = mask(bytes)
            let count = replacement?.count ?? bytes.count
            out += [UInt8(count & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count >> 16 & 0xFF), UInt8(count >> 24 & 0xFF)]
            if let replacement { out += replacement } else { out.append(contentsOf: bytes) }
        }
        return out
    }
}
