import NIOPosix
import PosternApprovals
import PosternClient
import PosternCore
import PosternCrypto
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Announces approvals to a webhook: each new pending approval and each decision or
/// expiry, as JSON (or a Slack-compatible message), POSTed with an HMAC-SHA256 signature
/// over the time and body (`X-Postern-Signature: t=<unix>,v1=<hex>`) so the receiver can
/// check it came from Postern and is recent. Sent in order and retried with backoff (1, 2,
/// 4, 8 s; given up after five attempts) from a bounded queue on a thread of its own: a
/// receiver that is down never holds a request.
public final class ApprovalWebhook: Sendable {
    public enum Format: String, Sendable, CaseIterable { case json, slack }

    public let address: ServerAddress
    public let path: String
    public let format: Format
    private let secret: [UInt8]
    private let queue = Mutex(Queue())
    private let pool = NIOThreadPool(numberOfThreads: 1)
    static let limit = 1000
    static let attempts = 5

    struct Queue {
        var pending: [(body: String, attempt: Int, due: Double)] = []
        var sent = 0
        var dropped = 0
        var lastError: String?
    }

    public init(address: ServerAddress, path: String, format: Format, secret: [UInt8]) {
        self.address = address
        self.path = path
        self.format = format
        self.secret = secret
        pool.start()
    }

    deinit { try? pool.syncShutdownGracefully() }

    public var counts: (sent: Int, dropped: Int, pending: Int, error: String?) {
        queue.withLock { ($0.sent, $0.dropped, $0.pending.count, $0.lastError) }
    }

    /// Queues the announcement of an approval as it now stands.
    public func announce(_ approval: Approval, now: Double = ApprovalWebhook.now()) {
        let body = format == .slack ? Self.slack(approval) : Self.json(approval, at: now)
        queue.withLock { queue in
            guard queue.pending.count < Self.limit else {
                queue.dropped += 1
                return
            }
            queue.pending.append((body, 0, now))
        }
    }

    /// Sends what is due (on the webhook's own thread); called every few hundred ms.
    public func deliver() async {
        _ = try? await pool.runIfActive { [self] in deliverDue(now: Self.now()) }
    }

    /// Sends in order: a failed announcement is retried before any later one is sent, so
    /// a receiver never hears a decision before the approval it decides.
    private func deliverDue(now: Double) {
        while let item = queue.withLock({ queue in queue.pending.first.flatMap { $0.due <= now ? $0 : nil } }) {
            let failure = post(item.body, now: now)
            let stop = queue.withLock { queue -> Bool in
                guard let failure else {
                    queue.pending.removeFirst()
                    queue.sent += 1
                    queue.lastError = nil
                    return false
                }
                queue.lastError = failure
                if item.attempt + 1 < Self.attempts {
                    queue.pending[0] = (item.body, item.attempt + 1, now + Double(1 << item.attempt))
                } else {
                    queue.pending.removeFirst()
                    queue.dropped += 1
                }
                return true
            }
            if stop { return }
        }
    }

    /// Nil when the receiver took it (2xx); else why not.
    private func post(_ body: String, now: Double) -> String? {
        let timestamp = String(Int64(now))
        let signed = Array((timestamp + "." + body).utf8)
        let signature = Hex.encode(signed.withUnsafeBufferPointer { HMACSHA256.mac(key: secret, message: $0) })
        let request = "POST \(path) HTTP/1.1\r\nhost: \(address.host):\(address.port)\r\ncontent-type: application/json\r\n"
            + "user-agent: postern\r\nx-postern-signature: t=\(timestamp),v1=\(signature)\r\n"
            + "content-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n" + body
        switch HTTP1Client.exchange(address, request: Array(request.utf8), limit: 1 << 20) {
        case .failure(let failure): return "\(failure)"
        case .success(let reply): return (200..<300).contains(reply.status) ? nil : "the webhook answered \(reply.status)"
        }
    }

    // MARK: - Bodies

    static func json(_ approval: Approval, at now: Double) -> String {
        "{\"event\":\"approval.\(approval.state.rawValue)\",\"at\":\(Int64(now)),\"approval\":\(ApprovalJSON.approval(approval))}"
    }

    /// A Slack incoming-webhook message: text, with the approval's id and what it asks.
    static func slack(_ approval: Approval) -> String {
        let verb: String
        switch approval.state {
        case .pending: verb = "waits for approval"
        case .approved: verb = "was approved"
        case .denied: verb = "was denied"
        case .expired: verb = "expired undecided"
        }
        let deciders = approval.verdicts.map { "\($0.approver) (\($0.approved ? "approve" : "deny")\($0.reason.isEmpty ? "" : ": \($0.reason)"))" }
        var text = "Approval \(approval.id) \(verb): \(approval.requester) asks \(approval.function)/\(approval.operation)"
            + (approval.model.map { " on \($0)" } ?? "") + " (rule \(approval.rule)). \(approval.summary)"
        if !deciders.isEmpty { text += " Decided by " + deciders.joined(separator: ", ") + "." }
        return "{\"text\":\(JSONText.quote(text))}"
    }

    public static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
