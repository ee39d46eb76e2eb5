/// Masks protobuf messages by their schema: string fields by the detectors (a JSON
/// document in a string as JSON), fields named by a rule or marked `debug_redact` whole,
/// nested, repeated and map fields all the way down, KServe BYTES tensors element by
/// element. Every enclosing length is rewritten. Fields the schema does not know are
/// scanned as they are and dropped if anything is found in them; a message that does not
/// parse is an error. Unchanged fields are copied byte for byte.
public struct ProtobufMasker {
    static let maxDepth = 64

    public let policy: MaskingPolicy
    public let schema: ProtoSchema
    public internal(set) var findings: [EntityKind: Int] = [:]
    /// Where the walk is, as field rule path steps; kept only when a rule has a path.
    var path: [FieldRule.PathStep] = []
    /// Outputs whose BYTES elements are pieces of texts streamed over a stream's messages,
    /// the texts held across them, and whether this walk releases what they hold.
    public var streamedTensors: Set<String> = []
    var heldTensors: [String: HeldText] = [:]
    var releasing = false
    /// The name of the tensor whose raw contents are being read.
    var rawName: String?
    /// The last message masked carried a streamed tensor (it is the template to release into).
    public internal(set) var carriedStreamedTensor = false
    private let tracksPath: Bool

    public init(policy: MaskingPolicy, schema: ProtoSchema) {
        self.policy = policy
        self.schema = schema
        tracksPath = policy.fields.contains { if case .path = $0.selector { true } else { false } }
    }

    /// The masked message, or nil when nothing in it needed masking (send the original).
    public mutating func mask(_ message: UnsafeBufferPointer<UInt8>, type: Int) throws(MaskingError) -> [UInt8]? {
        path.removeAll(keepingCapacity: true)
        carriedStreamedTensor = false
        return try walk(message, 0..<message.count, type: type, depth: 0, group: nil).output
    }

    public mutating func mask(_ message: [UInt8], type: Int) throws(MaskingError) -> [UInt8]? {
        var result: Result<[UInt8]?, MaskingError> = .success(nil)
        message.withUnsafeBufferPointer { buffer in
            do throws(MaskingError) { result = .success(try mask(buffer, type: type)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Texts of streamed tensors still held.
    var holdsStreamedText: Bool { !heldTensors.isEmpty }

    /// The last message again with each streamed tensor's element replaced by what its text
    /// still holds (the stream ended): the closing message of the stream.
    mutating func releasing(_ message: [UInt8], type: Int) throws(MaskingError) -> [UInt8] {
        releasing = true
        defer {
            releasing = false
            heldTensors.removeAll()
        }
        return try mask(message, type: type) ?? message
    }

    enum Outcome {
        case keep
        case drop
        /// A new value for a length-delimited field.
        case payload([UInt8])
        /// A new content for a group (between its start and end tags).
        case group([UInt8], endTag: Range<Int>)
    }

    /// Walks the fields in `range` (up to the end tag of `group`, for a group). Returns the
    /// rewritten fields (nil if none changed) and where they end.
    mutating func walk(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, type: Int, depth: Int,
                       group: Int?) throws(MaskingError) -> (output: [UInt8]?, end: Int) {
        guard depth < Self.maxDepth else { throw MaskingError("protobuf nested more than \(Self.maxDepth) deep") }
        let message = schema.messages[type]
        var output: [UInt8] = []
        var changed = false
        var copied = range.lowerBound
        var i = range.lowerBound
        let end = range.upperBound
        var occurrences: [Int: Int] = [:]
        let mapKey = message.isMapEntry ? try Self.mapKey(buf, range) : nil
        var datatypes: [(datatype: String?, name: String?)] = []
        var rawSeen = 0
        if let raw = message.rawTensors { datatypes = try Self.datatypes(buf, range, raw) }

        while i < end {
            let fieldStart = i
            let (number, wire) = try ProtoWire.readTag(buf, &i, end: end)
            if wire == ProtoWire.endGroup {
                guard group == number else { throw ProtoWire.truncated("an end-group tag out of place") }
                if changed { output.append(contentsOf: UnsafeBufferPointer(rebasing: buf[copied..<fieldStart])) }
                return (changed ? output : nil, fieldStart)
            }
            let valueStart = i
            var outcome = Outcome.keep
            if let field = message.fields[number], Self.fits(field, wire) {
                let isMapValue = message.isMapEntry && number == 2
                let name = isMapValue ? (mapKey ?? field.name) : field.name
                if tracksPath {
                    path.append(.key(name))
                    if field.repeated, !isMapField(field) {
                        path.append(.index(occurrences[number, default: 0]))
                        occurrences[number, default: 0] += 1
                    }
                }
                var datatype: String??
                if let raw = message.rawTensors, raw.rawField == number {
                    datatype = rawSeen < datatypes.count ? datatypes[rawSeen].datatype : .some(nil)
                    rawName = rawSeen < datatypes.count ? datatypes[rawSeen].name : nil
                    rawSeen += 1
                }
                outcome = try known(field, wire: wire, buf, &i, end: end, depth: depth,
                                    ruleName: isMapValue ? name.lowercased() : field.lowerName, hint: name,
                                    rawDatatype: datatype)
                if tracksPath {
                    path.removeLast()
                    if field.repeated, !isMapField(field) { path.removeLast() }
                }
            } else {
                outcome = try unknown(buf, &i, end: end, wire: wire, number: number, depth: depth)
            }
            if case .keep = outcome { continue }
            if !changed {
                changed = true
                output.reserveCapacity(end - range.lowerBound)
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: buf[copied..<fieldStart]))
            switch outcome {
            case .keep, .drop:
                break
            case .payload(let bytes):
                output.append(contentsOf: UnsafeBufferPointer(rebasing: buf[fieldStart..<valueStart]))
                ProtoWire.appendVarint(UInt64(bytes.count), to: &output)
                output += bytes
            case .group(let bytes, let endTag):
                output.append(contentsOf: UnsafeBufferPointer(rebasing: buf[fieldStart..<valueStart]))
                output += bytes
                output.append(contentsOf: UnsafeBufferPointer(rebasing: buf[endTag]))
            }
            copied = i
        }
        guard group == nil else { throw ProtoWire.truncated("a group without its end tag") }
        if changed { output.append(contentsOf: UnsafeBufferPointer(rebasing: buf[copied..<end])) }
        return (changed ? output : nil, end)
    }

    private func isMapField(_ field: ProtoSchema.Field) -> Bool {
        if case .message(let t) = field.kind { return schema.messages[t].isMapEntry }
        return false
    }

    /// Whether a value with wire type `wire` is the field's (otherwise it is read as unknown).
    private static func fits(_ field: ProtoSchema.Field, _ wire: Int) -> Bool {
        switch field.kind {
        case .string, .bytes, .message: wire == ProtoWire.lengthDelimited
        case .group: wire == ProtoWire.startGroup
        case .integer64, .scalar: field.wireType == wire || (field.wireType == -1 && wire != ProtoWire.startGroup)
        }
    }
}
