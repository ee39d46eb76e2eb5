import NIOCore
import PosternCore
import PosternMasking

/// The mask step on the response path: picks the masker for the response's content type,
/// masks the body as it streams (gRPC message by message, by the method's protobuf type),
/// and fails closed when it cannot (unless the policy says pass). A JSON response's head is
/// held until the body is masked (or 1 MiB of it is), so a body that turns out not to parse
/// still gets a clean 502; SSE and text stream at once. A response Postern cannot mask (no
/// or an unknown content type, a content coding) is held too: refused with 502 at its first
/// body byte, passed with its own status when it has none (redirects, empty 404s, HEAD).
final class ResponseMaskingStage {
    static let holdLimit = 1 << 20

    let policy: MaskingPolicy
    private var masker: ResponseMasker?
    private var heldHead: ResponseHead?
    private var heldBody: [UInt8] = []
    /// Output bytes sent to the caller and the upstream bytes they stand for, in order:
    /// the upstream is credited as the caller takes the output, keeping backpressure.
    private var ledger: [(output: Int, input: Int)] = []
    private(set) var passedUnmasked = false
    /// Why the held head's body could not be masked, should a byte of it come.
    private var refusal: MaskingError?

    init(policy: MaskingPolicy) { self.policy = policy }

    var findings: [EntityKind: Int] { masker?.findings ?? [:] }
    var unmatchedEvents: Int { masker?.unmatchedEvents ?? 0 }
    var isHoldingHead: Bool { heldHead != nil }

    /// What to do with the upstream's head: send it (possibly changed), hold it, or fail.
    func start(_ head: ResponseHead, grpcMethod: String?, endStream: Bool) -> Result<ResponseHead?, CallerError> {
        if endStream || head.status == 204 || head.status == 304 || head.headers["content-length"] == "0" {
            return .success(head)
        }
        var head = head
        let choice: Result<ResponseMasker, MaskingError>
        if let grpcMethod {
            // gRPC compresses per message (grpc-encoding), which the masker undoes itself.
            choice = ResponseMasker.grpc(method: grpcMethod, encoding: head.headers["grpc-encoding"], policy: policy)
        } else {
            let encoding = head.headers["content-encoding"]?.lowercased() ?? "identity"
            let contentType = head.headers["content-type"] ?? ""
            if encoding != "identity" {
                choice = .failure(MaskingError("masking policy '\(policy.name)' cannot mask a \(encoding)-encoded response"))
            } else if let field = head.headers["inference-header-content-length"] {
                // Triton's binary tensor extension, whatever the content type says.
                choice = TritonBinaryMasker.headerLength(field).map {
                    .success(.triton(TritonBinaryMasker(policy: policy, headerLength: $0, direction: .response,
                                                        maxBytes: policy.maxMessageBytes)))
                } ?? .failure(MaskingError("Inference-Header-Content-Length '\(field)' is not a length"))
            } else if let masker = ResponseMasker(contentType: contentType, policy: policy) {
                choice = .success(masker)
            } else {
                choice = .failure(MaskingError("masking policy '\(policy.name)' cannot mask content type '\(contentType)'"))
            }
        }
        let chosen: ResponseMasker
        switch choice {
        case .success(let masker):
            chosen = masker
        case .failure(let error):
            if policy.passUnparseable {
                passedUnmasked = true
                return .success(head)
            }
            refusal = error
            heldHead = head
            return .success(nil)
        }
        masker = chosen
        head.headers.remove("content-length")  // the masked body has its own length
        switch chosen {
        case .json, .triton:
            heldHead = head
            return .success(nil)
        default:
            break
        }
        return .success(head)
    }

    /// Masks a piece of the body. Returns a head released now (if it was held) and the
    /// bytes to send, plus the upstream bytes to credit at once.
    func body(_ data: ByteBuffer) -> Result<(head: ResponseHead?, output: [UInt8], creditNow: Int), CallerError> {
        if let refusal, data.readableBytes > 0 { return .failure(.maskingFailed(refusal.message)) }
        guard let masker else { return .success((nil, Array(data.readableBytesView), data.readableBytes)) }
        let input = data.readableBytes
        do throws(MaskingError) {
            let output = try masker.feed(Array(data.readableBytesView))
            if heldHead != nil {
                heldBody += output
                guard heldBody.count > Self.holdLimit else { return .success((nil, [], input)) }
                return .success(release(extra: [], input: 0, creditNow: input))
            }
            if output.isEmpty { return .success((nil, [], input)) }
            ledger.append((output.count, input))
            return .success((nil, output, 0))
        } catch {
            return .failure(.maskingFailed("response could not be masked: \(error)"))
        }
    }

    /// The end of the body: whatever the masker still held.
    func end() -> Result<(head: ResponseHead?, output: [UInt8]), CallerError> {
        guard let masker else {
            // No body came that needed a masker: the held head goes as it is.
            defer { heldHead = nil }
            return .success((heldHead, []))
        }
        do throws(MaskingError) {
            let output = try masker.finish()
            if heldHead != nil {
                let released = release(extra: output, input: 0, creditNow: 0)
                return .success((released.head, released.output))
            }
            ledger.append((output.count, 0))
            return .success((nil, output))
        } catch {
            return .failure(.maskingFailed("response could not be masked: \(error)"))
        }
    }

    private func release(extra: [UInt8], input: Int, creditNow: Int) -> (head: ResponseHead?, output: [UInt8], creditNow: Int) {
        var head = heldHead
        heldHead = nil
        for (name, value) in masker?.headUpdates ?? [] {
            head?.headers.remove(name)
            head?.headers.add(name, value)
        }
        let output = heldBody + extra
        heldBody = []
        ledger.append((output.count, input))  // held bytes were credited when they arrived
        return (head, output, creditNow)
    }

    /// `bytes` of output left through the caller: the upstream bytes to credit for them.
    func delivered(_ bytes: Int) -> Int {
        var remaining = bytes
        var credit = 0
        while remaining > 0, !ledger.isEmpty {
            let (output, input) = ledger[0]
            if output <= remaining {
                remaining -= output
                credit += input
                ledger.removeFirst()
            } else {
                // Part of an entry: credit in proportion.
                let share = input * remaining / max(output, 1)
                credit += share
                ledger[0] = (output - remaining, input - share)
                remaining = 0
            }
        }
        return credit
    }
}
