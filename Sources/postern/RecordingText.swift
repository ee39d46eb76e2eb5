import PosternCrypto
import PosternJSON

/// A recording for people: chunks as `{at_ms, text}` when they are UTF-8, else base64.
enum RecordingText {
    static func readable(_ recording: JSONValue) -> JSONValue {
        guard case .object(var top) = recording else { return recording }
        for side in ["request", "response"] {
            guard case .object(var part)? = top[side], case .array(let chunks)? = part["chunks"] else { continue }
            part["chunks"] = .array(chunks.map { chunk in
                guard case .array(let pair) = chunk, pair.count == 2, let data = pair[1].string,
                      let bytes = Base64URL.decodeStandard(data) else { return chunk }
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
