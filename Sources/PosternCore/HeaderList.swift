/// One header field. Names are kept lowercase (HTTP/2 requires it; HTTP/1.1 names are folded).
public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// An ordered list of header fields, without pseudo-headers.
///
/// A plain array: requests carry a handful of fields, so a linear scan beats hashing.
public struct HeaderList: Sendable, Equatable, Sequence {
    public private(set) var fields: [HeaderField]

    public init(_ fields: [HeaderField] = []) { self.fields = fields }

    public init(_ pairs: [(String, String)]) {
        self.fields = pairs.map { HeaderField($0.0.lowercased(), $0.1) }
    }

    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }
    public func makeIterator() -> IndexingIterator<[HeaderField]> { fields.makeIterator() }

    /// The first value of `name` (lowercase).
    public subscript(name: String) -> String? {
        for field in fields where field.name == name { return field.value }
        return nil
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    public mutating func add(_ name: String, _ value: String) {
        fields.append(HeaderField(name, value))
    }

    public mutating func remove(_ name: String) {
        fields.removeAll { $0.name == name }
    }

    public mutating func removeAll(where shouldRemove: (HeaderField) -> Bool) {
        fields.removeAll(where: shouldRemove)
    }
}
