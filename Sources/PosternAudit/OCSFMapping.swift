import PosternJSON

/// Audit records as OCSF 1.3.0 events, for SIEMs that speak OCSF: request records and
/// admin API calls as API Activity (class 6003), approvals as Authorize Session (3003),
/// Postern's own start, stop, reloads and heartbeats as Application Lifecycle (6002).
/// Every event names the log (origin), the record's index and the newest checkpoint's
/// size, so the SIEM's copy can be checked against the signed log; the Postern record
/// itself rides along in `unmapped`.
public enum OCSFMapping {
    public static let version = "1.3.0"

    /// The event for one record line; nil for a line that is not a record.
    public static func event(_ line: [UInt8], origin: String, checkpointSize: UInt64) -> String? {
        guard case .object(let record)? = JSONValue.parse(line), let kind = record["kind"]?.string,
              let index = record["index"]?.number, let ts = record["ts"]?.number else { return nil }
        var event: [String: JSONValue] = [
            "time": .number((ts * 1000).rounded(.down)),
            "metadata": .object([
                "version": .string(version),
                "product": .object(["name": .string("Postern"), "vendor_name": .string("Postern")]),
                "log_name": .string(origin),
                "sequence": .number(index),
            ]),
            "unmapped": .object(["postern": .object(record), "checkpoint_size": .number(Double(checkpointSize))]),
        ]
        switch kind {
        case "request": apiActivity(record, into: &event)
        case "admin.call": adminCall(record, into: &event)
        case _ where kind.hasPrefix("approval."): approval(kind, record, into: &event)
        default: lifecycle(kind, record, into: &event)
        }
        return JSONValue.object(event).text
    }

    private static func apiActivity(_ r: [String: JSONValue], into event: inout [String: JSONValue]) {
        let method = r["method"]?.string ?? "-"
        let outcome = r["outcome"]?.string ?? "ok"
        classify(&event, uid: 6003, name: "API Activity", category: 6, activity: activity(method))
        let ok = outcome == "ok"
        event["severity_id"] = .number(ok ? 1 : refused(outcome) ? 3 : 2)
        event["status_id"] = .number(ok ? 1 : 2)
        event["status"] = .string(outcome)
        if let detail = r["detail"]?.string { event["status_detail"] = .string(detail) }
        if let status = r["status"]?.number { event["status_code"] = .string(String(Int(status))) }
        var user: [String: JSONValue] = ["uid": r["principal"] ?? .string("anonymous")]
        if let credential = r["credential_id"] { user["credential_uid"] = credential }
        var actor: [String: JSONValue] = ["user": .object(user)]
        if let decision = r["decision"]?.string, let rule = r["rule"]?.string {
            actor["authorizations"] = .array([.object(["decision": .string(decision),
                                                       "policy": .object(["name": .string(rule)])])])
        }
        event["actor"] = .object(actor)
        var api: [String: JSONValue] = ["operation": r["operation"] ?? .string(method)]
        if let id = r["request_id"] { api["request"] = .object(["uid": id]) }
        if let status = r["status"] { api["response"] = .object(["code": status]) }
        if let function = r["function"] { api["service"] = .object(["name": function]) }
        event["api"] = .object(api)
        event["src_endpoint"] = endpoint(r["peer"]?.string)
        var url: [String: JSONValue] = [:]
        if let path = r["path"] { url["path"] = path }
        event["http_request"] = .object(["http_method": .string(method), "url": .object(url)])
        if let ms = r["duration_ms"]?.number { event["duration"] = .number(ms.rounded()) }
        if let trace = r["traceparent"] { event["metadata"]![merge: "correlation_uid"] = trace }
        if let id = r["request_id"] { event["metadata"]![merge: "uid"] = id }
    }

    /// An operator's call of the admin API (approvals decided, revocations made).
    private static func adminCall(_ r: [String: JSONValue], into event: inout [String: JSONValue]) {
        let method = r["method"]?.string ?? "-"
        let status = Int(r["status"]?.number ?? 0)
        classify(&event, uid: 6003, name: "API Activity", category: 6, activity: activity(method))
        event["severity_id"] = .number(status < 400 ? 1 : 3)
        event["status_id"] = .number(status < 400 ? 1 : 2)
        event["status_code"] = .string(String(status))
        event["actor"] = .object(["user": .object(["uid": r["actor"] ?? .string("unauthenticated")])])
        event["api"] = .object(["operation": .string("admin " + method + " " + (r["path"]?.string ?? "")),
                                "service": .object(["name": .string("postern-admin")]),
                                "response": .object(["code": .number(Double(status))])])
        event["src_endpoint"] = endpoint(r["peer"]?.string)
        event["http_request"] = .object(["http_method": .string(method), "url": .object(["path": r["path"] ?? .null])])
    }

    /// An approval's life as Authorize Session (3003): approved is privileges assigned to
    /// the requester for one operation; pending, denied and expired are its other states.
    private static func approval(_ kind: String, _ r: [String: JSONValue], into event: inout [String: JSONValue]) {
        let state = String(kind.dropFirst("approval.".count))
        classify(&event, uid: 3003, name: "Authorize Session", category: 3, activity: state == "approved" ? 1 : 99)
        event["activity_name"] = .string(state == "approved" ? "Assign Privileges" : state)
        event["severity_id"] = .number(state == "pending" || state == "approved" ? 2 : 1)
        event["status_id"] = .number(state == "denied" || state == "expired" ? 2 : 1)
        event["status"] = .string(state)
        event["user"] = .object(["uid": r["requester"] ?? .string("unknown")])
        let privilege = (r["function"]?.string ?? "?") + "/" + (r["operation"]?.string ?? "?")
            + (r["model"]?.string.map { " on " + $0 } ?? "")
        event["privileges"] = .array([.string(privilege)])
        if let summary = r["summary"] { event["message"] = summary }
        if let id = r["approval"] { event["metadata"]![merge: "uid"] = id }
    }

    private static func lifecycle(_ kind: String, _ r: [String: JSONValue], into event: inout [String: JSONValue]) {
        let activity = switch kind {
        case "postern.start": 3
        case "postern.stop": 4
        case "config.reloaded", "config.rejected", "credentials.reloaded": 8
        default: 99
        }
        classify(&event, uid: 6002, name: "Application Lifecycle", category: 6, activity: activity)
        let failed = kind == "config.rejected" || kind == "audit.records_dropped"
        event["severity_id"] = .number(kind == "audit.records_dropped" ? 4 : failed ? 3 : 1)
        event["status_id"] = .number(failed ? 2 : 1)
        event["message"] = .string(kind)
        var app: [String: JSONValue] = ["name": .string("Postern"), "vendor_name": .string("Postern")]
        if let version = r["version"] { app["version"] = version }
        event["app"] = .object(app)
    }

    private static func classify(_ event: inout [String: JSONValue], uid: Int, name: String, category: Int, activity: Int) {
        event["class_uid"] = .number(Double(uid))
        event["class_name"] = .string(name)
        event["category_uid"] = .number(Double(category))
        event["activity_id"] = .number(Double(activity))
        event["type_uid"] = .number(Double(uid * 100 + activity))
    }

    /// OCSF API Activity: 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other.
    private static func activity(_ method: String) -> Int {
        switch method {
        case "POST": 1
        case "GET", "HEAD": 2
        case "PUT", "PATCH": 3
        case "DELETE": 4
        default: 99
        }
    }

    private static func refused(_ outcome: String) -> Bool {
        ["unauthenticated", "denied", "permission_denied", "revoked", "approval_required", "parameter_not_allowed"]
            .contains(outcome)
    }

    /// `{ip, port}` from "1.2.3.4:5678" or "[::1]:5678" (`name: unknown` without one, as
    /// OCSF wants the endpoint named somehow).
    private static func endpoint(_ peer: String?) -> JSONValue {
        guard let peer, let colon = peer.lastIndex(of: ":"), let port = Int(peer[peer.index(after: colon)...]) else {
            return .object(["name": .string("unknown")])
        }
        var ip = String(peer[..<colon])
        if ip.hasPrefix("["), ip.hasSuffix("]") { ip = String(ip.dropFirst().dropLast()) }
        return .object(["ip": .string(ip), "port": .number(Double(port))])
    }
}

extension JSONValue {
    /// A member of an object, set in place (no-op on other values).
    subscript(merge key: String) -> JSONValue? {
        get { self[key] }
        set {
            guard case .object(var members) = self else { return }
            members[key] = newValue
            self = .object(members)
        }
    }
}
