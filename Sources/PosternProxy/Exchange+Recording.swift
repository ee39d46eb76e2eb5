import NIOCore
import PosternAudit
import PosternCore
import PosternMasking

/// The session recording of an exchange (`audit.recordings`): what the caller sent and
/// what it got, masked, with timing, digested into the exchange's record.
extension Exchange {
    func startRecording() {
        guard let cap = services.config.audit?.recordingCap, services.log.isAudited else { return }
        var recording = Recording(startedAt: AuditClock.now(), cap: cap, byMessage: isGRPC)
        recording.request(method: request.method, path: Recording.recordedTarget(request.path),
                          headers: request.headers.map { ($0.name, $0.value) }.filter { !services.callerClaims.isClaim($0.0) })
        self.recording = recording
    }

    func recordRequestBody(_ data: ByteBuffer) {
        recording?.requestBody(data.readableBytesView, at: AuditClock.now())
    }

    func recordResponseHead(_ head: ResponseHead) {
        recording?.response(status: head.status, headers: head.headers.map { ($0.name, $0.value) })
    }

    func recordResponseBody(_ bytes: some Collection<UInt8>) {
        recording?.responseBody(bytes, at: AuditClock.now())
    }

    func recordTrailers(_ trailers: HeaderList?) {
        guard let trailers else { return }
        recording?.trailers(trailers.map { ($0.name, $0.value) })
    }

    /// The recording's line and digest, the request body masked as the route's policy
    /// would mask an answer (or left out when it cannot be).
    func finishRecording() -> (line: [UInt8], digest: String)? {
        guard var recording else { return nil }
        self.recording = nil
        recording.finish(at: AuditClock.now())
        let body = recording.requestBody
        let policy = served?.masking
        // The target as forwarded (normalised), credentials withheld, values masked.
        recording.target(Recording.recordedTarget(request.path, mask: policy.map { $0.mask } ?? { $0 }))
        if !body.isEmpty, let policy {
            let masked: [UInt8]?
            if isGRPC {
                masked = Self.maskedMessages(body, method: String(request.pathWithoutQuery),
                                             encoding: request.headers["grpc-encoding"], policy: policy)
            } else if let field = request.headers["inference-header-content-length"] {
                masked = Self.maskedTensors(body, headerLength: field, policy: policy).map { masked in
                    recording.replaceRequestHeader("inference-header-content-length", String(masked.headerLength))
                    return masked.body
                }
            } else {
                masked = Self.masked(body, contentType: request.headers["content-type"], policy: policy)
            }
            switch masked {
            case .some(let masked): recording.maskRequestBody(masked)
            case .none:
                recording.maskRequestBody([])
                recording.requestBodyOmitted = "not in a format the masking policy reads"
            }
        }
        let line = recording.line(requestID: requestID)
        return (line, Recording.digest(line))
    }

    /// gRPC request messages masked by their protobuf type (the method's input type).
    private static func maskedMessages(_ body: [UInt8], method: String, encoding: String?,
                                       policy: MaskingPolicy) -> [UInt8]? {
        guard let schema = policy.protoSchema, let types = schema.methods[method] else { return nil }
        let masker = GRPCMessageMasker(policy: policy, schema: schema, type: types.input, encoding: encoding,
                                       maxMessageBytes: policy.maxMessageBytes)
        do throws(MaskingError) {
            return try masker.feed(body) + masker.finish()
        } catch {
            return nil
        }
    }

    /// A request in Triton's binary tensor extension: its JSON header and binary inputs.
    private static func maskedTensors(_ body: [UInt8], headerLength field: String,
                                      policy: MaskingPolicy) -> (body: [UInt8], headerLength: Int)? {
        guard let length = TritonBinaryMasker.headerLength(field) else { return nil }
        let masker = TritonBinaryMasker(policy: policy, headerLength: length, direction: .request,
                                        maxBytes: policy.maxMessageBytes)
        guard let masked = try? masker.feed(body) + masker.finish(), let headerLength = masker.maskedHeaderLength else {
            return nil
        }
        return (masked, headerLength)
    }

    private static func masked(_ body: [UInt8], contentType: String?, policy: MaskingPolicy) -> [UInt8]? {
        let type = contentType?.lowercased() ?? ""
        if type.contains("json") {
            let masker = JSONMasker(policy: policy)
            do throws(MaskingError) {
                return try masker.feed(body) + masker.finish()
            } catch {
                return nil
            }
        }
        guard type.hasPrefix("text/") || type.isEmpty, String(validating: body, as: UTF8.self) != nil else { return nil }
        return body.withUnsafeBufferPointer { policy.mask($0)?.bytes } ?? body
    }
}
