/// An error Postern answers a caller with, instead of the upstream's answer.
///
/// Every step raises one of these at the point of failure; `ErrorResponse` is the single
/// place that turns it into bytes for an HTTP or a gRPC caller (DESIGN.md, "Errors a caller
/// sees").
public struct CallerError: Error, Sendable, Equatable {
    /// A stable machine-readable code, e.g. `upstream_unavailable`.
    public var code: String
    public var httpStatus: Int
    public var grpcStatus: GRPCStatus
    public var message: String

    public init(code: String, httpStatus: Int, grpcStatus: GRPCStatus, message: String) {
        self.code = code
        self.httpStatus = httpStatus
        self.grpcStatus = grpcStatus
        self.message = message
    }
}

extension CallerError {
    public static func badRequest(_ message: String) -> CallerError {
        CallerError(code: "bad_request", httpStatus: 400, grpcStatus: .invalidArgument, message: message)
    }
    /// No verified short-lived identity (or a refused one): 401 / UNAUTHENTICATED.
    public static func unauthenticated(_ message: String) -> CallerError {
        CallerError(code: "unauthenticated", httpStatus: 401, grpcStatus: .unauthenticated, message: message)
    }
    /// An identified caller that no rule allows (or a deny rule stops): 403 / PERMISSION_DENIED.
    public static func permissionDenied(_ message: String) -> CallerError {
        CallerError(code: "permission_denied", httpStatus: 403, grpcStatus: .permissionDenied, message: message)
    }
    /// The caller's identity or credential was revoked: 403 / PERMISSION_DENIED.
    public static func revoked(_ message: String) -> CallerError {
        CallerError(code: "revoked", httpStatus: 403, grpcStatus: .permissionDenied, message: message)
    }
    /// Allowed only once a human approves: 403 / PERMISSION_DENIED until then.
    public static func approvalRequired(_ message: String) -> CallerError {
        CallerError(code: "approval_required", httpStatus: 403, grpcStatus: .permissionDenied, message: message)
    }
    /// A body Postern must read to decide (model, parameters) that is not one it can read.
    public static func unreadableBody(_ message: String) -> CallerError {
        CallerError(code: "unreadable_request_body", httpStatus: 400, grpcStatus: .invalidArgument, message: message)
    }
    /// A body in a format or encoding Postern cannot inspect, on a request it must inspect.
    public static func uninspectableBody(_ message: String) -> CallerError {
        CallerError(code: "uninspectable_request_body", httpStatus: 415, grpcStatus: .invalidArgument, message: message)
    }
    /// The parameter guard refuses a field's value: names the field and the bound.
    public static func parameterNotAllowed(_ message: String) -> CallerError {
        CallerError(code: "parameter_not_allowed", httpStatus: 400, grpcStatus: .invalidArgument, message: message)
    }
    public static func noRoute(_ path: Substring) -> CallerError {
        CallerError(code: "no_route", httpStatus: 404, grpcStatus: .unimplemented,
                    message: "no route for \(path)")
    }
    public static func bodyTooLarge(limit: Int) -> CallerError {
        CallerError(code: "request_body_too_large", httpStatus: 413, grpcStatus: .resourceExhausted,
                    message: "request body exceeds \(limit) bytes")
    }
    public static func headersTooLarge(limit: Int) -> CallerError {
        CallerError(code: "request_headers_too_large", httpStatus: 431, grpcStatus: .resourceExhausted,
                    message: "request header list exceeds \(limit) bytes")
    }
    public static func requestTimeout(_ message: String) -> CallerError {
        CallerError(code: "request_timeout", httpStatus: 408, grpcStatus: .deadlineExceeded, message: message)
    }
    public static func streamIdle(_ message: String) -> CallerError {
        CallerError(code: "stream_idle_timeout", httpStatus: 408, grpcStatus: .deadlineExceeded, message: message)
    }
    /// The function's own upstream credential cannot be read: its requests fail closed.
    public static func credentialUnavailable(function: String) -> CallerError {
        CallerError(code: "upstream_credential_unavailable", httpStatus: 503, grpcStatus: .unavailable,
                    message: "the \(function) function's upstream credential is unavailable; nothing was sent")
    }
    /// The audit trail cannot be written: nothing is served that could not be recorded.
    public static func auditUnavailable(_ reason: String) -> CallerError {
        CallerError(code: "audit_unavailable", httpStatus: 503, grpcStatus: .unavailable,
                    message: "the audit trail cannot be written (\(reason)); requests are refused until it can")
    }
    /// The shared approvals store is away: no new approval can be opened (grants still admit).
    public static func approvalStoreUnavailable() -> CallerError {
        CallerError(code: "approval_store_unavailable", httpStatus: 503, grpcStatus: .unavailable,
                    message: "this request needs approval, and the approvals store is unavailable; try again later")
    }
    public static func upstreamUnavailable(_ message: String) -> CallerError {
        CallerError(code: "upstream_unavailable", httpStatus: 502, grpcStatus: .unavailable, message: message)
    }
    /// The upstream reset an HTTP/2 stream. gRPC callers get the status the gRPC HTTP/2
    /// spec assigns to the reset code, as if they had talked to the upstream directly.
    public static func upstreamReset(_ upstream: String, code: UInt32) -> CallerError {
        let (name, status): (String, GRPCStatus) = switch code {
        case 0x7: ("REFUSED_STREAM", .unavailable)
        case 0x8: ("CANCEL", .cancelled)
        case 0xb: ("ENHANCE_YOUR_CALM", .resourceExhausted)
        case 0xc: ("INADEQUATE_SECURITY", .permissionDenied)
        default: ("error 0x" + String(code, radix: 16), .internal)
        }
        return CallerError(code: "upstream_reset", httpStatus: 502, grpcStatus: status,
                           message: "upstream '\(upstream)' reset the stream (\(name))")
    }
    /// A response the masking policy covers could not be masked: it is not passed through.
    public static func maskingFailed(_ message: String) -> CallerError {
        CallerError(code: "masking_failed", httpStatus: 502, grpcStatus: .internal, message: message)
    }
    public static func upstreamTimeout(_ message: String) -> CallerError {
        CallerError(code: "upstream_timeout", httpStatus: 504, grpcStatus: .deadlineExceeded, message: message)
    }
    public static func shuttingDown() -> CallerError {
        CallerError(code: "shutting_down", httpStatus: 503, grpcStatus: .unavailable,
                    message: "postern is shutting down")
    }
    public static func tooManyConnections() -> CallerError {
        CallerError(code: "too_many_connections", httpStatus: 503, grpcStatus: .unavailable,
                    message: "connection limit reached")
    }
}
