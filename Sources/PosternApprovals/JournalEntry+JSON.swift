import PosternJSON

/// The journal's JSON form, one document per entry: the same in SQLite and PostgreSQL, and
/// versioned (`v`) so a later Postern can read what an earlier one wrote.
extension JournalRecord {
    static let version = 1

    public var json: String {
        var members: [String: JSONValue] = ["v": .number(Double(Self.version)), "origin": .string(origin)]
        switch entry {
        case .asked(let approval):
            members["type"] = .string("asked")
            members["approval"] = Self.encode(approval)
        case .decided(let id, let event):
            members["type"] = .string("decided")
            members["approval"] = .string(id)
            switch event {
            case .approve(let by, let groups, let reason, let at), .deny(let by, let groups, let reason, let at):
                if case .approve = event { members["decision"] = .string("approve") } else { members["decision"] = .string("deny") }
                members["by"] = .string(by)
                members["groups"] = .array(groups.map(JSONValue.string))
                members["reason"] = .string(reason)
                members["at"] = .number(Double(at))
            case .tick(let at):
                members["decision"] = .string("tick")
                members["at"] = .number(Double(at))
            }
        case .used(let grant, let at):
            members["type"] = .string("used")
            members["grant"] = .string(grant)
            members["at"] = .number(Double(at))
        case .grantRevoked(let grant):
            members["type"] = .string("grant_revoked")
            members["grant"] = .string(grant)
        case .revocationAdded(let id, let revocation):
            members["type"] = .string("revocation_added")
            members["id"] = .string(id)
            members["revocation"] = Self.encode(revocation)
        case .revocationRemoved(let id):
            members["type"] = .string("revocation_removed")
            members["id"] = .string(id)
        }
        return JSONValue.object(members).text
    }

    /// Nil for a document this version cannot read (a newer one's, or a damaged one).
    public init?(json: [UInt8]) {
        guard let value = JSONValue.parse(json, maxDepth: 8), value["v"]?.number == Double(Self.version),
              let origin = value["origin"]?.string, let type = value["type"]?.string else { return nil }
        let entry: JournalEntry
        switch type {
        case "asked":
            guard let approval = value["approval"].flatMap(Self.approval) else { return nil }
            entry = .asked(approval)
        case "decided":
            guard let id = value["approval"]?.string, let at = value["at"].flatMap(Self.integer),
                  let decision = value["decision"]?.string else { return nil }
            if decision == "tick" {
                entry = .decided(approval: id, .tick(at: at))
            } else {
                guard let by = value["by"]?.string, let reason = value["reason"]?.string,
                      case .array(let list)? = value["groups"], decision == "approve" || decision == "deny" else { return nil }
                let groups = list.compactMap(\.string)
                entry = .decided(approval: id, decision == "approve" ? .approve(by: by, groups: groups, reason: reason, at: at)
                                                                     : .deny(by: by, groups: groups, reason: reason, at: at))
            }
        case "used":
            guard let grant = value["grant"]?.string, let at = value["at"].flatMap(Self.integer) else { return nil }
            entry = .used(grant: grant, at: at)
        case "grant_revoked":
            guard let grant = value["grant"]?.string else { return nil }
            entry = .grantRevoked(grant)
        case "revocation_added":
            guard let id = value["id"]?.string, let revocation = value["revocation"].flatMap(Self.revocation) else { return nil }
            entry = .revocationAdded(id: id, revocation)
        case "revocation_removed":
            guard let id = value["id"]?.string else { return nil }
            entry = .revocationRemoved(id)
        default:
            return nil
        }
        self.init(origin: origin, entry: entry)
    }

    // MARK: - Parts

    static func integer(_ value: JSONValue) -> Int64? {
        guard let number = value.number, number == number.rounded(), abs(number) < 9e15 else { return nil }
        return Int64(number)
    }

    static func encode(_ approval: Approval) -> JSONValue {
        let r = approval.requirement
        var members: [String: JSONValue] = [
            "id": .string(approval.id), "requester": .string(approval.requester), "function": .string(approval.function),
            "operation": .string(approval.operation), "rule": .string(approval.rule), "digest": .string(approval.digest),
            "summary": .string(approval.summary), "created_at": .number(Double(approval.createdAt)),
            "requirement": .object([
                "approvers": .array(r.approvers.map(JSONValue.string)), "approvals_needed": .number(Double(r.approvalsNeeded)),
                "reason_required": .bool(r.reasonRequired), "pending_ttl": .number(Double(r.pendingTTL)),
                "grant_ttl": .number(Double(r.grantTTL)), "grant_uses": .number(Double(r.grantUses)),
                "bind_to_request": .bool(r.bindToRequest), "hold_open": .number(Double(r.holdOpen)),
            ]),
        ]
        if let model = approval.model { members["model"] = .string(model) }
        return .object(members)
    }

    static func approval(_ value: JSONValue) -> Approval? {
        guard let id = value["id"]?.string, let requester = value["requester"]?.string,
              let function = value["function"]?.string, let operation = value["operation"]?.string,
              let rule = value["rule"]?.string, let digest = value["digest"]?.string, let summary = value["summary"]?.string,
              let createdAt = value["created_at"].flatMap(integer), let r = value["requirement"],
              case .array(let approvers)? = r["approvers"], let needed = r["approvals_needed"].flatMap(integer),
              case .bool(let reasonRequired)? = r["reason_required"], let pendingTTL = r["pending_ttl"].flatMap(integer),
              let grantTTL = r["grant_ttl"].flatMap(integer), let uses = r["grant_uses"].flatMap(integer),
              case .bool(let bind)? = r["bind_to_request"], let holdOpen = r["hold_open"].flatMap(integer) else { return nil }
        var requirement = ApprovalRequirement(approvers: approvers.compactMap(\.string), approvalsNeeded: Int(needed),
                                              reasonRequired: reasonRequired, pendingTTL: pendingTTL, grantTTL: grantTTL,
                                              grantUses: Int(uses), bindToRequest: bind)
        requirement.holdOpen = holdOpen
        return Approval(id: id, requester: requester, function: function, operation: operation,
                        model: value["model"]?.string, rule: rule, requirement: requirement, digest: digest,
                        summary: summary, createdAt: createdAt)
    }

    static func encode(_ revocation: Revocation) -> JSONValue {
        let (kind, subject): (String, String)
        switch revocation.subject {
        case .identity(let id): (kind, subject) = ("identity", id)
        case .pattern(let base): (kind, subject) = ("pattern", base)
        case .tokenID(let jti): (kind, subject) = ("token_id", jti)
        case .certificateSerial(let serial): (kind, subject) = ("certificate_serial", serial)
        }
        var members: [String: JSONValue] = ["kind": .string(kind), "subject": .string(subject),
                                            "reason": .string(revocation.reason), "by": .string(revocation.by),
                                            "at": .number(Double(revocation.at))]
        if let until = revocation.until { members["until"] = .number(Double(until)) }
        return .object(members)
    }

    static func revocation(_ value: JSONValue) -> Revocation? {
        guard let kind = value["kind"]?.string, let subject = value["subject"]?.string,
              let reason = value["reason"]?.string, let by = value["by"]?.string,
              let at = value["at"].flatMap(integer) else { return nil }
        let until = value["until"].flatMap(integer)
        let parsed: Revocation.Subject
        switch kind {
        case "identity": parsed = .identity(subject)
        case "pattern": parsed = .pattern(subject)
        case "token_id": parsed = .tokenID(subject)
        case "certificate_serial": parsed = .certificateSerial(subject)
        default: return nil
        }
        return Revocation(subject: parsed, reason: reason, by: by, at: at, until: until)
    }
}
