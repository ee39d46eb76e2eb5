import PosternJSON
/// The shape of the JSON error a caller's client expects.
public enum ErrorDialect: Sendable {
    /// OpenAI-compatible clients: `{"error": {"code", "message", "request_id"}}`.
    case openAI
    /// KServe v2 / Open Inference Protocol clients (tritonclient, the KServe SDK) read
    /// `{"error": "message"}` and break on an object there; `code` and `request_id` ride
    /// along as members they ignore.
    case openInference

    /// The dialect of the API a path belongs to: the Open Inference Protocol lives under `/v2`.
    public static func forPath(_ path: Substring) -> ErrorDialect {
        RequestTarget.isPath(path, under: "/v2") ? .openInference : .openAI
    }
}

/// How a `CallerError` looks on the wire.
public enum ErrorResponse {
    /// For HTTP callers: a JSON body in the caller's dialect.
    public static func http(_ error: CallerError, requestID: String, dialect: ErrorDialect = .openAI) -> (ResponseHead, String) {
        let code = JSONText.quote(error.code), message = JSONText.quote(error.message), id = JSONText.quote(requestID)
        let body = switch dialect {
        case .openAI: "{\"error\":{\"code\":\(code),\"message\":\(message),\"request_id\":\(id)}}\n"
        case .openInference: "{\"error\":\(message),\"code\":\(code),\"request_id\":\(id)}\n"
        }
        var head = ResponseHead(status: error.httpStatus, headers: HeaderList([
            HeaderField("content-type", "application/json"),
            HeaderField("content-length", String(body.utf8.count)),
            HeaderField("x-request-id", requestID),
        ]))
        // RFC 9110 §15.5.2: a 401 says how to authenticate.
        if error.httpStatus == 401 { head.headers.add("www-authenticate", "Bearer") }
        return (head, body)
    }

    /// For gRPC callers: a trailers-only response, i.e. one HEADERS frame that ends the stream.
    public static func grpc(_ error: CallerError, requestID: String) -> ResponseHead {
        ResponseHead(status: 200, headers: HeaderList([
            HeaderField("content-type", "application/grpc"),
            HeaderField("grpc-status", String(error.grpcStatus.rawValue)),
            HeaderField("grpc-message", GRPCStatus.encodeMessage(error.message)),
            HeaderField("x-request-id", requestID),
        ]))
    }

    /// The trailers that end a gRPC response whose head was already sent.
    public static func grpcTrailers(_ error: CallerError) -> HeaderList {
        HeaderList([
            HeaderField("grpc-status", String(error.grpcStatus.rawValue)),
            HeaderField("grpc-message", GRPCStatus.encodeMessage(error.message)),
        ])
    }
}

/// Minimal JSON text helpers for the few documents Postern writes itself.
public enum JSONText {
    /// A JSON string literal: '"', '\' and control characters escaped.
    public static func quote(_ string: String) -> String { JSONValue.string(string).text }
}
