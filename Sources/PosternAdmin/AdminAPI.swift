#if canImport(Glibc)
import Glibc
#endif
import PosternApprovals
import PosternCore
import PosternIdentity
import PosternJSON
import PosternPolicy

/// The admin API under `/admin/v1/`: JSON in and out, for its operators only. A caller
/// proves who it is with a short-lived bearer token (verified as the data path verifies
/// them) and must be one of `admin.operators`, which never include a function's callers.
///
/// - `GET /admin/v1/revocations`: those in force and scheduled.
/// - `POST /admin/v1/revocations` `{"identity" | "pattern" | "token_id" | "certificate_serial":
///   VALUE, "reason": "...", "until": SECONDS}`: takes effect for the next request on this
///   sidecar and ends its streams already open.
/// - `DELETE /admin/v1/revocations/ID`.
/// - `GET /admin/v1/approvals[/ID]`: pending and decided approvals (an operator sees all, an
///   approver those it may decide); `POST /admin/v1/approvals/ID/approve|deny` `{"reason"}`
///   decides as the caller, never the requester; `GET /admin/v1/grants`,
///   `DELETE /admin/v1/grants/ID` revokes one early (operators).
/// - `GET /admin/v1/config`: the running configuration's SHA-256 and when it was loaded;
///   `POST /admin/v1/explain` `{"caller", "method", "path", "body"}`: what this sidecar
///   would do with that request, sending nothing (operators).
/// - `POST /admin/v1/recordings/REQUEST_ID` `{"purpose": "show" | "replay", "to": URL,
///   "reason": "..."}`: an exchange's record and session recording (operators); who opened
///   it, and why, is in the audit trail before it is handed over.
public final class AdminAPI: Sendable {
    /// Verifies a bearer token: the principal, or why not.
    public typealias Authenticate = @Sendable (_ token: Substring) -> Result<Principal, Refused>

    public struct Refused: Error, Sendable {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
    }

    private let operators: @Sendable () -> [CallerPattern]
    private let authenticate: Authenticate
    private let revocations: RevocationStore
    private let approvals: ApprovalDesk?
    /// Control-plane events, for the log: who did what.
    private let record: @Sendable (String) -> Void
    /// Every call, answered or refused, for the audit trail.
    private let audit: @Sendable (Call) -> Void
    let openRecording: OpenRecording?
    let inspect: Inspect?

    /// The running configuration, for operators: its digest and load time, and `explain`.
    public struct Inspect: Sendable {
        public var configuration: @Sendable () -> (sha256: String, loadedAt: Int64)
        public var explain: @Sendable (_ caller: String?, _ method: String, _ path: String, _ body: [UInt8]?) -> String

        public init(configuration: @escaping @Sendable () -> (sha256: String, loadedAt: Int64),
                    explain: @escaping @Sendable (String?, String, String, [UInt8]?) -> String) {
            self.configuration = configuration
            self.explain = explain
        }
    }

    /// One call of the API as the audit trail records it.
    public struct Call: Sendable {
        public var actor: String?
        public var method: String
        public var path: String
        public var status: Int
        public var peer: String?
    }

    public init(operators: @escaping @Sendable () -> [CallerPattern], authenticate: @escaping Authenticate,
                revocations: RevocationStore, approvals: ApprovalDesk? = nil,
                record: @escaping @Sendable (String) -> Void, audit: @escaping @Sendable (Call) -> Void = { _ in },
                openRecording: OpenRecording? = nil, inspect: Inspect? = nil) {
        self.openRecording = openRecording
        self.inspect = inspect
        self.operators = operators
        self.authenticate = authenticate
        self.revocations = revocations
        self.approvals = approvals
        self.record = record
        self.audit = audit
    }

    public struct Response: Error, Sendable, Equatable {
        public var status: Int
        public var body: String

        public init(status: Int, body: String) {
            self.status = status
            self.body = body
        }
    }

    /// `certified`: the caller's X.509-SVID, verified in the TLS handshake (`admin.tls`);
    /// a bearer token, when one is sent, speaks instead.
    public func handle(method: String, path: Substring, authorization: String?, body: [UInt8],
                       peer: String? = nil, certified: Principal? = nil) async -> Response {
        let identified = authorization == nil && certified != nil ? .success(certified!) : identify(authorization)
        switch identified {
        case .failure(let response):
            audit(Call(actor: nil, method: method, path: String(path), status: response.status, peer: peer))
            return response
        case .success(let actor):
            let response = await respond(method: method, path: path, actor: actor, body: body)
            audit(Call(actor: actor.id, method: method, path: String(path), status: response.status, peer: peer))
            return response
        }
    }

    private func respond(method: String, path: Substring, actor: Principal, body: [UInt8]) async -> Response {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        if parts.count >= 3, parts[2] == "approvals" || parts[2] == "grants" {
            return await approvalsEndpoint(method, parts, actor: actor, body: body)
        }
        guard isOperator(actor) else {
            return Self.error(403, "permission_denied", "\(actor.id) is not an operator of this sidecar")
        }
        switch (method, parts.count) {
        case ("POST", 4) where parts[2] == "recordings":
            return await recordingsEndpoint(String(parts[3]), actor: actor, body: body)
        case ("GET", 3) where parts[2] == "config" && inspect != nil:
            let (sha256, loadedAt) = inspect!.configuration()
            return Response(status: 200, body: "{\"sha256\":\(JSONText.quote(sha256)),\"loaded_at\":\(loadedAt)}")
        case ("POST", 3) where parts[2] == "explain" && inspect != nil:
            guard case .object(let members)? = JSONValue.parse(body), let path = members["path"]?.string else {
                return Self.error(400, "bad_request", "explain takes {\"path\": …, \"method\", \"caller\", \"body\"}")
            }
            let method = members["method"]?.string ?? "GET"
            let bodyBytes = members["body"].map { value -> [UInt8] in Array((value.string ?? value.text).utf8) }
            return Response(status: 200, body: inspect!.explain(members["caller"]?.string, method, path, bodyBytes))
        case ("GET", 3) where parts[2] == "revocations":
            return Response(status: 200, body: "{\"revocations\":[" + revocations.all.map(Self.json).joined(separator: ",") + "]}")
        case ("POST", 3) where parts[2] == "revocations":
            switch Self.revocation(from: body, by: actor.id, now: Int64(time(nil))) {
            case .failure(let problem):
                return Self.error(400, "bad_request", problem.reason)
            case .success(let revocation):
                let id: String
                do {
                    id = try await revocations.add(revocation)
                } catch {
                    return Self.storeUnavailable(error)
                }
                record("revocation \(id) added by \(actor.id): \(Self.describe(revocation.subject))")
                return Response(status: 201, body: Self.json((id, revocation)))
            }
        case ("DELETE", 4) where parts[2] == "revocations":
            let removed: Bool
            do {
                removed = try await revocations.remove(String(parts[3]))
            } catch {
                return Self.storeUnavailable(error)
            }
            guard removed else { return Self.error(404, "not_found", "no revocation \(parts[3])") }
            record("revocation \(parts[3]) removed by \(actor.id)")
            return Response(status: 200, body: "{\"removed\":\(JSONText.quote(String(parts[3])))}")
        default:
            return Self.error(404, "not_found", "no such admin endpoint: \(method) \(path)")
        }
    }

    private func identify(_ authorization: String?) -> Result<Principal, Response> {
        guard let authorization, authorization.utf8.count > 7, authorization.prefix(7).lowercased() == "bearer " else {
            return .failure(Self.error(401, "unauthenticated", "the admin API needs a short-lived bearer token"))
        }
        switch authenticate(authorization.dropFirst(7)) {
        case .failure(let refused):
            return .failure(Self.error(401, "unauthenticated", refused.reason))
        case .success(let principal):
            return .success(principal)
        }
    }

    private func isOperator(_ principal: Principal) -> Bool {
        operators().contains { pattern in
            if case .exact(let id) = pattern, id.hasPrefix("group:") { return principal.groups.contains(String(id.dropFirst(6))) }
            return !principal.id.hasPrefix("group:") && pattern.covers(principal.id)
        }
    }

    private func approvalsEndpoint(_ method: String, _ parts: [Substring], actor: Principal, body: [UInt8]) async -> Response {
        guard let desk = approvals else { return Self.error(404, "not_found", "approvals are not enabled") }
        let now = Int64(time(nil))
        let operatorCalls = isOperator(actor)
        func visible(_ approval: Approval) -> Bool {
            operatorCalls || approval.requirement.names(actor.id, groups: actor.groups)
        }
        switch (method, parts[2], parts.count) {
        case ("GET", "approvals", 3):
            let shown = desk.approvals(now: now).filter(visible)
            return Response(status: 200, body: "{\"approvals\":[" + shown.map(ApprovalJSON.approval).joined(separator: ",") + "]}")
        case ("GET", "approvals", 4):
            guard let approval = desk.approvals(now: now).first(where: { $0.id == parts[3] }), visible(approval) else {
                return Self.error(404, "not_found", "no approval \(parts[3]) for \(actor.id)")
            }
            return Response(status: 200, body: ApprovalJSON.approval(approval))
        case ("POST", "approvals", 5) where parts[4] == "approve" || parts[4] == "deny":
            let reason = JSONValue.parse(body)?["reason"]?.string ?? ""
            let event: ApprovalMachine.Event = parts[4] == "approve"
                ? .approve(by: actor.id, groups: actor.groups, reason: reason, at: now)
                : .deny(by: actor.id, groups: actor.groups, reason: reason, at: now)
            let decided: Result<ApprovalMachine.Outcome, ApprovalMachine.Refusal>?
            do {
                decided = try await desk.decide(String(parts[3]), event)
            } catch {
                return Self.storeUnavailable(error)
            }
            switch decided {
            case nil:
                return Self.error(404, "not_found", "no approval \(parts[3])")
            case .failure(let refusal):
                return Self.error(refusal == .selfApproval || refusal == .notAnApprover(actor.id) ? 403 : 409,
                                  "decision_refused", refusal.description)
            case .success(let outcome):
                record("approval \(parts[3]) \(parts[4] == "approve" ? "approved" : "denied") by \(actor.id)"
                       + (reason.isEmpty ? "" : " (\(reason))") + ": now \(outcome.approval.state.rawValue)"
                       + (outcome.grant.map { ", grant \($0.id) until \($0.expiresAt)" } ?? ""))
                return Response(status: 200, body: ApprovalJSON.approval(outcome.approval))
            }
        case ("GET", "grants", 3) where operatorCalls:
            return Response(status: 200, body: "{\"grants\":[" + desk.grants().map { ApprovalJSON.grant($0, now: now) }
                .joined(separator: ",") + "]}")
        case ("DELETE", "grants", 4) where operatorCalls:
            let revoked: Bool
            do {
                revoked = try await desk.revokeGrant(String(parts[3]))
            } catch {
                return Self.storeUnavailable(error)
            }
            guard revoked else { return Self.error(404, "not_found", "no grant \(parts[3])") }
            record("grant \(parts[3]) revoked by \(actor.id)")
            return Response(status: 200, body: "{\"revoked\":\(JSONText.quote(String(parts[3])))}")
        default:
            return Self.error(operatorCalls ? 404 : 403, operatorCalls ? "not_found" : "permission_denied",
                              "no such admin endpoint for \(actor.id): \(method) /\(parts.joined(separator: "/"))")
        }
    }

    static func revocation(from body: [UInt8], by actor: String, now: Int64) -> Result<Revocation, Refused> {
        guard case .object(let members)? = JSONValue.parse(body) else { return .failure(Refused("expected a JSON object")) }
        let kinds: [(String, (String) -> Revocation.Subject?)] = [
            ("identity", { .identity($0) }),
            ("pattern", { text in CallerPattern(text).flatMap { if case .under(let base) = $0 { .pattern(base) } else { nil } } }),
            ("token_id", { .tokenID($0) }),
            ("certificate_serial", { .certificateSerial($0) }),
        ]
        let given = kinds.filter { members[$0.0] != nil }
        guard given.count == 1, let (key, make) = given.first else {
            return .failure(Refused("name exactly one of identity, pattern, token_id, certificate_serial"))
        }
        guard case .string(let value)? = members[key], !value.isEmpty, let subject = make(value) else {
            return .failure(Refused(key == "pattern" ? "a pattern is spiffe://TRUST-DOMAIN/PATH/*" : "\(key) must be a non-empty string"))
        }
        var until: Int64?
        if let limit = members["until"] {
            guard case .number(let seconds) = limit, seconds > Double(now), seconds < 1e12 else {
                return .failure(Refused("until is a time in the future, in seconds since the epoch"))
            }
            until = Int64(seconds)
        }
        let reason = members["reason"]?.string ?? ""
        return .success(Revocation(subject: subject, reason: reason, by: actor, at: now, until: until))
    }

    static func describe(_ subject: Revocation.Subject) -> String {
        switch subject {
        case .identity(let id): "identity \(id)"
        case .pattern(let base): "pattern \(base)*"
        case .tokenID(let jti): "token \(jti)"
        case .certificateSerial(let serial): "certificate \(serial)"
        }
    }

    static func json(_ entry: (id: String, revocation: Revocation)) -> String {
        let revocation = entry.revocation
        let (kind, value): (String, String) = switch revocation.subject {
        case .identity(let id): ("identity", id)
        case .pattern(let base): ("pattern", base + "*")
        case .tokenID(let jti): ("token_id", jti)
        case .certificateSerial(let serial): ("certificate_serial", serial)
        }
        var fields = ["\"id\":\(JSONText.quote(entry.id))", "\"\(kind)\":\(JSONText.quote(value))",
                      "\"reason\":\(JSONText.quote(revocation.reason))", "\"by\":\(JSONText.quote(revocation.by))",
                      "\"at\":\(revocation.at)"]
        if let until = revocation.until { fields.append("\"until\":\(until)") }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// The shared store could not take a change: nothing was changed (or it will apply
    /// when the store returns, if it was written but not read back).
    static func storeUnavailable(_ error: any Error) -> Response {
        Self.error(503, "store_unavailable", "the approvals store is unavailable: \(error)")
    }

    public static func error(_ status: Int, _ code: String, _ message: String) -> Response {
        Response(status: status, body: "{\"error\":{\"code\":\(JSONText.quote(code)),\"message\":\(JSONText.quote(message))}}")
    }
}
