import PosternCrypto
import PosternJSON

/// A recording for people: chunks as `{at_ms, text}` when they are UTF-8, else base64; a
/// gRPC exchange's chunks as its messages (`{at_ms, message_bytes, compressed, base64}`,
/// the payload without its 5-byte prefix).
enum RecordingText {
    static func readable(_ recording: JSONValue) -> JSONValue {
        guard case .object(var top) = recording else { return recording }
        let isGRPC = RecordedExchange(recording).isGRPC
        for side in ["request", "response"] {
            guard case .object(var part)? = top[side], case .array(let chunks)? = part["chunks"] else { continue }
            part["chunks"] = .array(chunks.map { chunk in
                guard case .array(let pair) = chunk, pair.count == 2, let data = pair[1].string,
                      let bytes = Base64URL.decodeStandard(data) else { return chunk }
                if isGRPC, bytes.count >= 5 {
                    let payload = Array(bytes.dropFirst(5))
                    return .object(["at_ms": pair[0], "message_bytes": .number(Double(payload.count)),
                                    "compressed": .bool(bytes[0] != 0), "base64": .string(Base64URL.encodeStandard(payload))])
                }
                if let text = String(validating: bytes, as: UTF8.self) {
                    return .object(["at_ms": pair[0], "text": .string(text)])
                }
                return .object(["at_ms": pair[0], "base64": .string(data)])
            })
            top[side] = .object(part)
        }
        return .object(top)
    }
}

/// The parts of a recording line that replay needs.
struct RecordedExchange {
    var method: String
    var path: String
    var requestHeaders: [(String, String)]
    var requestBody: [UInt8]
    var status: Int
    var responseBody: [UInt8]
    var trailers: [(String, String)]
    var truncated: Bool

    init(_ recording: JSONValue) {
        func pairs(_ value: JSONValue?) -> [(String, String)] {
            guard case .array(let items)? = value else { return [] }
            return items.compactMap { item in
                guard case .array(let pair) = item, pair.count == 2, let name = pair[0].string, let value = pair[1].string
                else { return nil }
                return (name, value)
            }
        }
        func body(_ part: JSONValue?) -> [UInt8] {
            guard case .array(let chunks)? = part?["chunks"] else { return [] }
            return chunks.flatMap { chunk -> [UInt8] in
                guard case .array(let pair) = chunk, pair.count == 2, let data = pair[1].string else { return [] }
                return Base64URL.decodeStandard(data) ?? []
            }
        }
        let request = recording["request"], response = recording["response"]
        method = request?["method"]?.string ?? "GET"
        path = request?["path"]?.string ?? "/"
        requestHeaders = pairs(request?["headers"])
        requestBody = body(request)
        status = Int(response?["status"]?.number ?? 0)
        responseBody = body(response)
        trailers = pairs(response?["trailers"])
        truncated = recording["truncated"] == .bool(true)
    }

    var isGRPC: Bool {
        requestHeaders.contains { $0.0 == "content-type" && $0.1.hasPrefix("application/grpc") }
    }
}
