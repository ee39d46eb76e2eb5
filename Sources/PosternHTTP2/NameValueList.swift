import CNGHTTP2
import PosternCore

/// A header block laid out for nghttp2: names and values in one byte array, and one
/// `nghttp2_nv` per field. Built in a local variable (no exclusivity check per field) and
/// kept by the session between submits so its storage is reused.
struct NameValueList {
    private var bytes: [UInt8] = []
    private var entries: [nghttp2_nv] = []

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
    }

    mutating func append(_ name: String, _ value: String) {
        // Offsets (plus one, so none is a null pointer) stand in the pointer fields until
        // `submit`, when the storage has stopped moving.
        let nameStart = bytes.count
        bytes.append(utf8: name)
        let valueStart = bytes.count
        bytes.append(utf8: value)
        entries.append(nghttp2_nv(
            name: UnsafeMutablePointer(bitPattern: nameStart + 1),
            value: UnsafeMutablePointer(bitPattern: valueStart + 1),
            namelen: valueStart - nameStart,
            valuelen: bytes.count - valueStart,
            flags: UInt8(Self.isUnique(name) ? NGHTTP2_NV_FLAG_NO_INDEX.rawValue : NGHTTP2_NV_FLAG_NONE.rawValue)))
    }

    /// A value never sent twice (the request id) is not added to the HPACK tables: each
    /// insertion allocates and pushes out entries that do repeat (measured: 4 allocations and
    /// 14% of the CPU of a proxied request).
    static func isUnique(_ name: String) -> Bool {
        name.utf8.count == 12 && name == "x-request-id"
    }

    mutating func append(_ fields: HeaderList) {
        for field in fields { append(field.name, field.value) }
    }

    /// Calls an nghttp2 submit function with the block; nghttp2 copies it during the call.
    mutating func submit(_ body: (UnsafePointer<nghttp2_nv>, Int) -> Int32) -> Int32 {
        bytes.withUnsafeMutableBufferPointer { storage -> Int32 in
            let base = storage.baseAddress ?? UnsafeMutablePointer<UInt8>(bitPattern: 1)!
            return entries.withUnsafeMutableBufferPointer { nva -> Int32 in
                for i in nva.indices {
                    nva[i].name = base + (Int(bitPattern: nva[i].name) - 1)
                    nva[i].value = base + (Int(bitPattern: nva[i].value) - 1)
                }
                return body(nva.baseAddress!, nva.count)
            }
        }
    }
}
