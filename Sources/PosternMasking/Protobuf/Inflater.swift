import CZlib

/// gzip / deflate (zlib-wrapped, as gRPC means it) decompression under a size cap, so a
/// small compressed message cannot expand into unbounded memory.
enum Inflater {
    static func inflate(_ input: UnsafeBufferPointer<UInt8>, limit: Int) throws(MaskingError) -> [UInt8] {
        var stream = z_stream()
        guard postern_inflate_init(&stream) == Z_OK else { throw MaskingError("zlib could not start") }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var status = Z_OK
        // zlib's next_in is not const, but inflate only reads through it.
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.avail_in = UInt32(input.count)
        while status == Z_OK {
            chunk.withUnsafeMutableBufferPointer { target in
                stream.next_out = target.baseAddress
                stream.avail_out = UInt32(target.count)
                status = CZlib.inflate(&stream, Z_NO_FLUSH)
                output.append(contentsOf: target[0..<(target.count - Int(stream.avail_out))])
            }
            if output.count > limit { status = Z_MEM_ERROR }
            if status == Z_BUF_ERROR, stream.avail_in == 0 { break }  // input ended before the stream did
        }
        if output.count > limit { throw MaskingError("a compressed message inflates past \(limit) bytes") }
        guard status == Z_STREAM_END, stream.avail_in == 0 else {
            throw MaskingError("a compressed message does not decompress (zlib status \(status))")
        }
        return output
    }
}
