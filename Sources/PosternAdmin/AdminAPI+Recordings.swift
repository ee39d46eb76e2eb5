import PosternCore
import PosternIdentity
import PosternJSON

/// Session recordings through the admin API: an investigator asks the sidecar, which
/// records the access (who, which exchange, to show or to replay where, why) before it
/// hands the recording over, so looking at what a caller sent is itself on the record.
extension AdminAPI {
    public struct RecordingAccess: Sendable, Equatable {
        public var actor: String
        public var requestID: String
        /// `show` or `replay`.
        public var purpose: String
        /// Where a replay will be sent.
        public var target: String?
        public var reason: String?
    }

    /// Finds the recording and records the access: the answer to give (the record and
    /// recording as JSON, or an error).
    public typealias OpenRecording = @Sendable (RecordingAccess) async -> Response

    func recordingsEndpoint(_ requestID: String, actor: Principal, body: [UInt8]) async -> Response {
        guard let openRecording else {
            return Self.error(404, "not_found", "this sidecar keeps no session recordings (audit.recordings)")
        }
        switch Self.recordingAccess(requestID, actor: actor.id, body: body) {
        case .failure(let problem): return Self.error(400, "bad_request", problem.reason)
        case .success(let access): return await openRecording(access)
        }
    }

    static func recordingAccess(_ requestID: String, actor: String, body: [UInt8]) -> Result<RecordingAccess, Refused> {
        let members: [String: JSONValue]
        if body.isEmpty {
            members = [:]
        } else {
            guard case .object(let parsed)? = JSONValue.parse(body) else { return .failure(Refused("expected a JSON object")) }
            members = parsed
        }
        if let unknown = members.keys.first(where: { !["purpose", "to", "reason"].contains($0) }) {
            return .failure(Refused("unknown member '\(unknown)'"))
        }
        for key in members.keys where members[key]?.string == nil {
            return .failure(Refused("'\(key)' must be a string"))
        }
        let purpose = members["purpose"]?.string ?? "show"
        guard purpose == "show" || purpose == "replay" else { return .failure(Refused("purpose is show or replay")) }
        let target = members["to"]?.string
        guard purpose == "show" || target?.isEmpty == false else { return .failure(Refused("a replay names where it goes: 'to'")) }
        guard RequestID.isAcceptable(requestID) else { return .failure(Refused("not a request id")) }
        return .success(RecordingAccess(actor: actor, requestID: requestID, purpose: purpose, target: target,
                                        reason: members["reason"]?.string))
    }
}
