#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import PosternApprovals
import PosternAudit
import PosternConfig
import PosternCore
import PosternIdentity
import PosternMasking
import PosternPolicy
import PosternTLS

/// One request and its response, from the caller through Postern to the model server.
///
/// The steps of DESIGN.md run here in order: the request id is fixed, the caller is
/// authenticated, the route is classified, and the request is forwarded; the response
/// comes back through the same object. Policy, masking and audit plug in here as they
/// are built. Both sides
/// report to the exchange, never to each other, and it runs on the caller's event loop.
final class Exchange {
    let requestID: String
    /// The caller's head; its path is normalised by `start` before any step reads it.
    private(set) var request: RequestHead
    let isGRPC: Bool
    /// The shape of the errors this caller's client reads, by the path it wrote.
    let errorDialect: ErrorDialect

    let services: LoopServices
    /// The connection: its address and verified client certificate, if any.
    let peer: CallerConnection
    /// Who is calling, once authenticated; nil on a public route without credentials.
    private(set) var principal: Principal?
    var caller: CallerStream?
    /// The mask step, when the route's masking policy covers this response.
    var masking: ResponseMaskingStage?
    var upstream: UpstreamStream?
    var upstreamName: String?
    /// The route taken, with its client and masking policy, once classified.
    var served: LoopRoute?
    var route: Route? { served?.route }
    /// The function's own credential for the model server, once authorized.
    var credential: UpstreamCredential?
    /// The request body, held whole while the decision waits for it.
    var held: HeldBody?
    /// Body bytes already credited to the caller while held: the upstream's credit for
    /// them, when they are sent on, is not passed back a second time.
    var prepaidCredit = 0
    /// For a gRPC call whose messages name their model: the messages not yet complete.
    var messages: GRPCMessageFramer?
    /// The model and version the last decision allowed, so a stream naming the same one
    /// again is not decided again (unless a guard reads every message's parameters).
    var admitted: (model: String?, version: String?)?
    var messagesGuarded = false
    /// A decision of "needs approval" waits for the whole body, to digest the exact request.
    var approvalWaitsForBody = false
    var approvalRefusal: CallerError?
    /// What a grant lets this exchange last: it is cut at the grant's end.
    var grantEnds: NIODeadline?
    /// A request held open while its approval is decided, until `until`.
    var awaitingDecision: (approval: String, until: NIODeadline, body: [UInt8], trailers: HeaderList?)?
    /// What the request does and whether it may, once authorized.
    var operation: Operation?
    var decision: Decision?
    /// What the shadow rule set would have decided (logged, never enforced).
    var shadowDecision: Decision?
    let startedAt = NIODeadline.now()
    var upstreamHeadAt: NIODeadline?
    /// The session recording, when `audit.recordings` is on.
    var recording: Recording?
    var recorded = false
    /// The approval this request waits on, or the grant it passed on (for the record).
    var approvalID: String?
    var grantID: String?
    /// From the end of the request to the response head (`response_timeout`).
    var responseDeadline: NIODeadline?
    /// Last time a body byte moved either way (`stream_idle_timeout`).
    var lastActivity: NIODeadline
    var requestEnded = false
    var sweepSlot = -1

    /// `holding`: the upstream's head is in, held until the masked body decides it.
    enum Response { case waiting, holding, streaming, done }
    var response = Response.waiting
    var status = 0
    var grpcStatus: String?
    var bytesIn = 0
    var bytesOut = 0
    /// Set for an event stream: whether the caller already has its `[DONE]`.
    var sseDone: SSEDoneMarker?

    init(request: RequestHead, caller: CallerStream, peer: CallerConnection, services: LoopServices) {
        let incoming = request.headers["x-request-id"]
        self.requestID = incoming.flatMap { RequestID.isAcceptable($0) ? $0 : nil } ?? services.requestIDs.next()
        self.request = request
        self.isGRPC = request.isGRPC
        self.errorDialect = ErrorDialect.forPath(request.pathWithoutQuery)
        self.caller = caller
        self.peer = peer
        self.services = services
        self.lastActivity = startedAt
    }

    var isFinished: Bool { response == .done }

    // MARK: From the caller

    /// Runs the request steps once the caller's head is complete.
    func start(endStream: Bool) {
        guard services.log.isRecording else {
            fail(.auditUnavailable("the sink is failing"), outcome: "audit_unavailable")
            return
        }
        startRecording()
        // normalise the path: every step below and the model server see the same one
        switch RequestTarget.normalize(request.path, allowAbsoluteForm: true) {
        case .success(let target):
            request.path = target.path
            if let authority = target.authority {
                // An absolute-form target names the host: a Host field that says otherwise is
                // a request two servers could route apart.
                if !request.authority.isEmpty, request.authority.lowercased() != authority.lowercased() {
                    fail(.badRequest("Host '\(request.authority)' disagrees with the request target's '\(authority)'"),
                         outcome: "bad_request")
                    return
                }
                request.authority = authority
            }
        case .failure(let error):
            fail(error, outcome: "bad_path")
            return
        }
        // A declared length over the limit is refused before anything reaches the upstream.
        let limit = services.config.limits.maxRequestBody
        if limit > 0, let declared = request.headers["content-length"].flatMap({ Int($0) }), declared > limit {
            fail(.bodyTooLarge(limit: limit), outcome: "request_body_too_large")
            return
        }
        // authenticate, before the route is revealed: only a public route takes anyone
        let served = services.routes.route(forPath: request.pathWithoutQuery)
        let route = served?.route
        switch services.authenticate(request.headers, peer: peer.certificate) {
        case .verified(let principal):
            self.principal = principal
            if let revocation = revocation(in: services.revocations) {
                fail(.revoked(Self.words(revocation)), outcome: "revoked")
                return
            }
        case .refused(let reason):
            fail(.unauthenticated(reason), outcome: "unauthenticated")
            return
        case .anonymous:
            guard route?.isPublic == true else {
                fail(.unauthenticated("no credential: send a short-lived token (authorization: Bearer) or a client X.509-SVID"),
                     outcome: "unauthenticated")
                return
            }
        }
        // classify: which upstream serves this path
        guard let served, let client = served.client else {
            fail(.noRoute(request.pathWithoutQuery), outcome: "no_route")
            return
        }
        let name = served.route.upstream
        upstreamName = name
        self.served = served
        if isGRPC, client.upstream.wireProtocol == .http1 {
            fail(.upstreamUnavailable("upstream '\(name)' speaks HTTP/1.1; gRPC needs an h2c upstream"),
                 outcome: "protocol_mismatch")
            return
        }
        // authorize: which function and operation this is, whether this caller may, and
        // the function's own upstream credential (public routes serve anyone)
        if route?.isPublic != true, let principal, let step = services.authorize {
            guard let classified = step.policy.classify(method: request.method, path: request.pathWithoutQuery) else {
                fail(.noRoute(request.pathWithoutQuery), outcome: "no_operation")
                return
            }
            operation = classified
            let facts = CallerFacts(id: principal.id, groups: principal.groups)
            // A caller denied whatever its body says is refused before any of it is read.
            let policy = step.policy
            if isGRPC {
                switch policy.messageInspection(for: classified, caller: facts) {
                case .none:
                    break
                case .refused(let guardName):
                    if !policy.deniedWhateverTheBody(classified, caller: facts, context: requestContext()) {
                        fail(.parameterNotAllowed("guard '\(guardName)' covers \(classified.name) and cannot read gRPC messages: "
                                                  + "refused rather than passed unread"), outcome: "parameter_violation")
                        return
                    }
                case .messages(let read, let guarded):
                    if !policy.deniedWhateverTheBody(classified, caller: facts, context: requestContext()) {
                        // Each message names its model: decide on each before it passes.
                        messages = GRPCMessageFramer(limit: min(read.limit, services.config.limits.streamWindow - 5))
                        messagesGuarded = guarded
                        services.sweeper.track(self)
                        if endStream { requestEnd(trailers: nil) }
                        return
                    }
                }
            } else if let read = policy.bodyRead(for: classified, caller: facts),
                      !policy.deniedWhateverTheBody(classified, caller: facts, context: requestContext()) {
                // The decision needs the body: hold it (bounded), then decide and forward.
                held = HeldBody(read: read)
                services.sweeper.track(self)
                if endStream { requestEnd(trailers: nil) }
                return
            }
            guard authorize(step, classified, facts, body: nil, onApproval: { [self] in
                if endStream {
                    settleApproval([], trailers: nil)
                } else {
                    // The approval is for the exact request: its body is read (bounded) first.
                    approvalWaitsForBody = true
                    held = HeldBody(read: RequestPolicy.BodyRead(limit: services.config.limits.maxInspectedBody,
                                                                 setBy: "limits.max_inspected_body"))
                    services.sweeper.track(self)
                }
            }) else { return }
        }
        forward(endStream: endStream)
        if endStream { requestFinished() }
    }

    /// Decides, keeping what the step found for the log; false when the request was refused.
    /// A decision that needs approval goes to the approval desk where there is one (`onApproval`
    /// is then called instead, and false returned).
    func authorize(_ step: AuthorizeStep, _ classified: Operation, _ facts: CallerFacts,
                           body: HeldRequest?, message: RequestBody? = nil, onApproval: (() -> Void)? = nil) -> Bool {
        let authorized = step.run(classified, caller: facts, context: requestContext(), body: body, message: message,
                                  upstreamCredentials: services.credentials.upstream)
        operation = authorized.operation
        decision = authorized.decision
        shadowDecision = authorized.shadowDecision
        if let refusal = authorized.refusal {
            if authorized.decision?.outcome == .needsApproval, services.approvals != nil, let onApproval {
                approvalRefusal = refusal.error
                onApproval()
            } else {
                fail(refusal.error, outcome: refusal.outcome, detail: refusal.detail)
            }
            return false
        }
        credential = authorized.credential
        return true
    }

    func requestContext() -> RequestContext {
        RequestContext(time: Int64(time(nil)), source: peer.sourceBytes, headers: request.headers)
    }

    /// Opens the upstream request: only end-to-end fields, our request id, and the
    /// function's own credential.
    func forward(endStream: Bool) {
        guard let client = served?.client else { return }
        if let policy = served?.masking {
            masking = ResponseMaskingStage(policy: policy)
        }
        var head = request
        head.headers = HopByHop.forwarded(request.headers, requestID: requestID,
                                          keepTETrailers: client.upstream.wireProtocol == .h2c,
                                          dropping: services.callerClaims, reserve: 5)
        addForwardingFields(to: &head.headers)
        if let credential { head.headers.add(credential.header, credential.value) }
        if masking != nil {
            // Masking reads the body: ask for it uncompressed.
            head.headers.remove("accept-encoding")
            head.headers.add("accept-encoding", "identity")
            if isGRPC {
                head.headers.remove("grpc-accept-encoding")
                head.headers.add("grpc-accept-encoding", "identity")
            }
        }
        upstream = client.open(head, endStream: endStream, delegate: self)
        services.sweeper.track(self)
    }

    /// What Postern saw of the caller, in place of what the caller claimed.
    func addForwardingFields(to headers: inout HeaderList) {
        if let forwardedFor = peer.forwardedFor, let forwarded = peer.forwarded {
            headers.add("x-forwarded-for", forwardedFor)
            headers.add("forwarded", forwarded)
        }
        headers.add("x-forwarded-proto", peer.scheme)
        if let name = services.config.forwarding.callerHeader, let principal {
            headers.add(name, principal.id)
        }
    }

    func requestFinished() {
        requestEnded = true
        guard response == .waiting, let timeout = served?.client?.upstream.responseTimeout else { return }
        responseDeadline = .now() + .nanoseconds(timeout.nanoseconds)
    }

    func requestBody(_ data: ByteBuffer) {
        guard response != .done, upstream != nil || held != nil || messages != nil else {
            caller?.creditRequestBody(data.readableBytes)
            return
        }
        bytesIn += data.readableBytes
        lastActivity = .now()
        recordRequestBody(data)
        let limit = services.config.limits.maxRequestBody
        if limit > 0, bytesIn > limit {
            fail(.bodyTooLarge(limit: limit), outcome: "request_body_too_large")
            return
        }
        if held != nil {
            hold(data)
        } else if messages != nil {
            passMessages(data)
        } else {
            upstream?.sendRequestBody(data)
        }
    }

    func requestEnd(trailers: HeaderList?) {
        guard response != .done, !requestEnded else { return }
        if let body = held {
            held = nil
            releaseHeld(body, trailers: trailers)
            return
        }
        if let framer = messages {
            guard !framer.holdsPartialMessage else {
                fail(.unreadableBody("the request ended inside a gRPC message"), outcome: "unreadable_body")
                return
            }
            if upstream == nil {
                // No message at all: decided on the path alone.
                guard let step = services.authorize, let classified = operation, let principal,
                      authorize(step, classified, CallerFacts(id: principal.id, groups: principal.groups), body: nil)
                else { return }
                forward(endStream: trailers == nil)
                if trailers == nil {
                    requestFinished()
                    return
                }
            }
        }
        upstream?.sendRequestEnd(trailers: trailers)
        requestFinished()
    }

    /// The caller reset the stream or went away.
    func callerAborted() {
        guard response != .done else { return }
        upstream?.cancel()
        if sseDone?.endsWithDone == true {
            finish(outcome: "ok", detail: "caller closed after [DONE]")
        } else {
            finish(outcome: "caller_reset", detail: nil)
        }
    }

    /// Fails the exchange with a Postern error (timeouts, limits, shutdown). `detail` is
    /// for the log when it should say more than the caller is told.
    func fail(_ error: CallerError, outcome: String, detail: String? = nil) {
        guard response != .done else { return }
        upstream?.cancel()
        let headSent = response == .streaming
        if !headSent { status = error.httpStatus }
        if isGRPC { grpcStatus = String(error.grpcStatus.rawValue) }
        recordEnd(outcome: outcome, detail: detail ?? error.message)
        switch (headSent, isGRPC) {
        case (false, true):
            caller?.sendResponseHead(ErrorResponse.grpc(error, requestID: requestID), endStream: true)
        case (false, false):
            let (head, body) = ErrorResponse.http(error, requestID: requestID, dialect: errorDialect)
            caller?.sendResponseHead(head, endStream: false)
            caller?.sendResponseBody(ByteBuffer(string: body))
            caller?.sendResponseEnd(trailers: nil)
        case (true, true):
            // The head is out: a gRPC caller still gets a status, in the trailers.
            caller?.sendResponseEnd(trailers: ErrorResponse.grpcTrailers(error))
        case (true, false):
            caller?.resetStream()
        }
        finish(outcome: outcome, detail: detail ?? error.message)
    }

    /// `bytes` of the response have left through the caller's side.
    func responseBodyDelivered(_ bytes: Int) {
        if let masking, !masking.passedUnmasked {
            let credit = masking.delivered(bytes)
            if credit > 0 { upstream?.creditResponseBody(credit) }
        } else {
            upstream?.creditResponseBody(bytes)
        }
    }

    /// Event streams and NDJSON: responses whose end may be far from their start.
    static func isLongStream(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        return contentType.hasPrefix("text/event-stream") || contentType.hasPrefix("application/x-ndjson")
    }

    /// Writes the exchange's record: called before the last bytes of the answer are handed
    /// to the caller's side, so the record is in the trail before the answer completes
    /// (the caller's flush waits behind it).
    func recordEnd(outcome: String, detail: String?) {
        guard !recorded else { return }
        recorded = true
        let recording = finishRecording()
        var entry = entry(outcome: outcome, detail: detail)
        entry.recording = recording?.digest
        services.log.write(entry, recording: recording?.line)
    }

    func finish(outcome: String, detail: String?) {
        response = .done
        services.sweeper.untrack(self)
        recordEnd(outcome: outcome, detail: detail)
        let caller = self.caller
        self.caller = nil
        self.upstream = nil
        caller?.exchangeFinished()
    }

    /// This exchange as the record says it: so far, or at its end.
    func entry(outcome: String, detail: String?) -> RequestLog.Entry {
        RequestLog.Entry(
            requestID: requestID, method: request.method, path: request.pathWithoutQuery,
            upstream: upstreamName, status: status, grpcStatus: grpcStatus, bytesIn: bytesIn,
            bytesOut: bytesOut, durationNanos: (NIODeadline.now() - startedAt).nanoseconds,
            outcome: outcome, detail: detail, principal: principal, masked: masking?.findings ?? [:],
            maskedPerEvent: masking?.unmatchedEvents ?? 0, operation: operation, decision: decision,
            shadowDecision: shadowDecision, peer: peer.hostPort, traceparent: request.headers["traceparent"],
            upstreamHeadNanos: upstreamHeadAt.map { ($0 - startedAt).nanoseconds }, approvalID: approvalID,
            grantID: grantID)
    }
}

extension Exchange: Sweepable {
    /// Enforces `response_timeout` (request complete, no response head yet) and
    /// `stream_idle_timeout` (a body is moving, or should be, and nothing moved).
    func sweep(now: NIODeadline) {
        if let waiting = awaitingDecision {
            lastActivity = now  // waiting on people, not on the caller
            switch services.approvals?.state(of: waiting.approval, now: Int64(time(nil))) {
            case .pending? where now < waiting.until:
                return
            case .approved?:
                settleApproval(waiting.body, trailers: waiting.trailers)  // passes on the grant
            case .denied?:
                awaitingDecision = nil
                fail(.permissionDenied("approval \(waiting.approval) was denied"), outcome: "approval_denied",
                     detail: waiting.approval)
            default:
                awaitingDecision = nil
                fail(.approvalRequired("approval \(waiting.approval) was not decided while the request was held; "
                                       + "retry once it is approved"), outcome: "approval_required", detail: waiting.approval)
            }
            return
        }
        if let grantEnds, now >= grantEnds {
            fail(.permissionDenied("the grant this request was made under has ended"), outcome: "grant_expired")
            return
        }
        if let deadline = responseDeadline {
            if now >= deadline, let client = served?.client {
                fail(.upstreamTimeout("no response from upstream '\(client.upstream.name)' within \(client.upstream.responseTimeout)"),
                     outcome: "upstream_timeout")
            }
            return
        }
        let limit = services.config.limits.streamIdleTimeout
        if now - lastActivity >= .nanoseconds(limit.nanoseconds) {
            fail(.streamIdle("no data moved for \(limit)"), outcome: "stream_idle_timeout")
        }
    }
}

extension Exchange: UpstreamDelegate {
    func upstreamResponseHead(_ head: ResponseHead, endStream: Bool) {
        guard response == .waiting else { return }
        responseDeadline = nil
        lastActivity = .now()
        upstreamHeadAt = lastActivity
        status = head.status
        var forwarded = ResponseHead(status: head.status,
                                     headers: HopByHop.forwarded(head.headers, requestID: requestID))
        if let masking {
            switch masking.start(forwarded, grpcMethod: isGRPC ? String(request.pathWithoutQuery) : nil, endStream: endStream) {
            case .failure(let error):
                fail(error, outcome: "masking_failed")
                return
            case .success(nil):
                response = .holding
                return
            case .success(let head?):
                forwarded = head
            }
        }
        sendHead(forwarded, endStream: endStream)
    }

    func sendHead(_ head: ResponseHead, endStream: Bool) {
        response = .streaming
        if endStream { grpcStatus = head.headers["grpc-status"] }
        let contentType = head.headers["content-type"]
        if !isGRPC, contentType?.hasPrefix("text/event-stream") == true { sseDone = SSEDoneMarker() }
        recordResponseHead(head)
        if !endStream, services.log.isAudited, isGRPC || Self.isLongStream(contentType) {
            // A stream may last hours: its start is recorded before its first byte leaves
            // (the caller's flush waits behind the record), its end when it ends. Any gRPC
            // call may be a stream: its head does not say.
            services.log.writeStart(entry(outcome: "streaming", detail: nil))
        }
        caller?.sendResponseHead(head, endStream: endStream)
        if endStream { finish(outcome: "ok", detail: nil) }
    }

    func upstreamResponseBody(_ data: ByteBuffer) {
        guard response == .streaming || response == .holding else { return }
        bytesOut += data.readableBytes
        lastActivity = .now()
        guard let masking, !masking.passedUnmasked else {
            sseDone?.sent(data.readableBytesView)
            recordResponseBody(data.readableBytesView)
            caller?.sendResponseBody(data)
            return
        }
        switch masking.body(data) {
        case .failure(let error):
            fail(error, outcome: "masking_failed")
        case .success(let (head, output, creditNow)):
            if let head { sendHead(head, endStream: false) }
            sendMasked(output)
            if creditNow > 0 { upstream?.creditResponseBody(creditNow) }
        }
    }

    func upstreamResponseEnd(trailers: HeaderList?) {
        guard response == .streaming || response == .holding else { return }
        if let masking, !masking.passedUnmasked {
            switch masking.end() {
            case .failure(let error):
                fail(error, outcome: "masking_failed")
                return
            case .success(let (head, output)):
                if let head { sendHead(head, endStream: false) }
                sendMasked(output)
            }
        }
        grpcStatus = trailers?["grpc-status"]
        recordTrailers(trailers)
        recordEnd(outcome: "ok", detail: nil)
        caller?.sendResponseEnd(trailers: trailers)
        finish(outcome: "ok", detail: nil)
    }

    func sendMasked(_ output: [UInt8]) {
        guard !output.isEmpty else { return }
        sseDone?.sent(output)
        recordResponseBody(output)
        caller?.sendResponseBody(ByteBuffer(bytes: output))
    }

    func upstreamFailed(_ error: CallerError) {
        fail(error, outcome: error.code)
    }

    func upstreamCreditRequestBody(_ bytes: Int) {
        let prepaid = min(prepaidCredit, bytes)
        prepaidCredit -= prepaid
        if bytes > prepaid { caller?.creditRequestBody(bytes - prepaid) }
    }
}
