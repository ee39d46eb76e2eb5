extension StringProtocol {
    /// `body` on the text's UTF-8 bytes where they lie. Iterating a `UTF8View` costs tens of
    /// instructions a byte, a buffer a few: it matters on paths read several times per request.
    /// Native strings are contiguous; anything else is copied once.
    @inlinable
    public func withUTF8Bytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        if let result = try utf8.withContiguousStorageIfAvailable(body) { return result }
        return try Array(utf8).withUnsafeBufferPointer(body)
    }
}

extension Array where Element == UInt8 {
    /// Appends the text's UTF-8 bytes with one copy (appending a `UTF8View` goes through the
    /// generic sequence path, a few times the cost for the short fields of a header block).
    @inlinable
    public mutating func append(utf8 text: some StringProtocol) {
        text.withUTF8Bytes { append(contentsOf: $0) }
    }
}
