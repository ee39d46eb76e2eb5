import NIOConcurrencyHelpers
import PosternAdmin
import PosternApprovals
import PosternAudit
import PosternClient
import PosternConfig
import PosternCore
import PosternIdentity
import PosternPolicy
import PosternProxy
import PosternTLS

#if canImport(Glibc)
import Glibc
#endif

/// What the admin API reads of the running sidecar, kept current as the configuration and
/// the credentials reload and once the data path starts.
final class AdminState: Sendable {
    private let operators: NIOLockedValueBox<[CallerPattern]>
    private let credentials = NIOLockedValueBox<Credentials?>(nil)
    private let proxy = NIOLockedValueBox<ProxyServer?>(nil)
    let revocations: RevocationStore
    let approvals: ApprovalDesk

    let audit: AuditWiring?

    /// Told of the approvals this sidecar opened, as they appear and are decided.
    let webhook: ApprovalWebhook?

    /// The configuration serving now, its file's digest and when it was loaded.
    private let running: NIOLockedValueBox<(config: PosternConfig, sha256: String, loadedAt: Int64)>
    private let file: String?

    init(config: PosternConfig, file: String? = nil, audit: AuditWiring? = nil, journal: SharedJournal? = nil,
         webhook: ApprovalWebhook? = nil) {
        self.audit = audit
        self.file = file
        running = NIOLockedValueBox((config, ConfigWatcher.digest(of: file), Int64(time(nil))))
        self.webhook = webhook
        // With a shared store every sidecar sees every change; only the one that opened an
        // approval (its ids carry this prefix) announces it, so a receiver hears it once.
        let prefix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let approvals = ApprovalDesk(prefix: prefix, journal: journal) { [audit] approval in
            audit?.record(Self.record(approval))
            if approval.id.hasPrefix("apr-\(prefix)-") { webhook?.announce(approval) }
        }
        operators = NIOLockedValueBox(config.adminOperators)
        let proxy = self.proxy
        let revocations = RevocationStore(journal: journal) { list in await proxy.withLockedValue { $0 }?.update(revocations: list) }
        // What the journal says goes to the desk, or to the revocations. Held weakly: the
        // desk holds the journal.
        journal?.attach { [weak approvals, weak revocations] entry in
            switch entry {
            case .revocationAdded, .revocationRemoved:
                await revocations?.apply(entry)
                return nil
            default:
                return approvals?.apply(entry)
            }
        }
        self.approvals = approvals
        self.revocations = revocations
    }

    /// `approval.pending`, `approval.approved`, `approval.denied`, `approval.expired`.
    static func record(_ approval: Approval) -> AuditRecord {
        var record = AuditRecord(kind: "approval.\(approval.state.rawValue)").string("approval", approval.id)
            .string("requester", approval.requester).string("function", approval.function)
            .string("operation", approval.operation).string("model", approval.model).string("rule", approval.rule)
            .string("digest", approval.digest).string("summary", approval.summary)
            .number("created_at", approval.createdAt).number("expires_at", approval.expiresAt)
        if !approval.verdicts.isEmpty {
            let verdicts = approval.verdicts.map {
                AuditRecord.object(["approver": $0.approver, "decision": $0.approved ? "approve" : "deny", "reason": $0.reason])
            }
            record = record.raw("verdicts", "[" + verdicts.joined(separator: ",") + "]")
        }
        return record
    }

    func update(config: PosternConfig) {
        operators.withLockedValue { $0 = config.adminOperators }
        running.withLockedValue { $0 = (config, ConfigWatcher.digest(of: file), Int64(time(nil))) }
    }
    func update(credentials: Credentials) { self.credentials.withLockedValue { $0 = credentials } }
    var currentCredentials: Credentials? { credentials.withLockedValue { $0 } }

    /// The data path is serving: it takes the revocations made while it started.
    func serving(_ proxy: ProxyServer) async {
        self.proxy.withLockedValue { $0 = proxy }
        await proxy.use(approvals: approvals)
        await proxy.update(revocations: RevocationList(revocations.all.map(\.revocation)))
    }

    /// `/metrics`: the data path's counters and the approval desk's and revocations' gauges.
    func metrics() async -> String {
        var text = await proxy.withLockedValue({ $0 })?.metrics() ?? ""
        let now = Int64(time(nil))
        let approvals = self.approvals.approvals(now: now)
        let grants = self.approvals.grants().filter { $0.state(at: now) == .active }
        let revocations = self.revocations.all.filter { $0.revocation.inForce(at: now) }
        var gauges = PrometheusText()
        gauges.family("postern_approvals", "gauge", "Approvals by state.")
        for state in Approval.State.allCases {
            gauges.sample("postern_approvals", "state=\(gauges.label(state.rawValue))", approvals.filter { $0.state == state }.count)
        }
        gauges.family("postern_grants_active", "gauge", "Grants that still admit requests.")
        gauges.sample("postern_grants_active", "", grants.count)
        gauges.family("postern_revocations", "gauge", "Revocations in force.")
        gauges.sample("postern_revocations", "", revocations.count)
        text += gauges.text
        if let log = audit?.log {
            text += AuditMetrics.exposition(log.status, exporters: log.settings.exporters, witness: log.settings.witness,
                                            now: Double(now))
        }
        text += CredentialMetrics.exposition(credentials.withLockedValue { $0 }, now: now)
        if let webhook {
            let counts = webhook.counts
            var sent = PrometheusText()
            sent.family("postern_announcements_sent_total", "counter", "Approval announcements the webhook took.")
            sent.sample("postern_announcements_sent_total", "", counts.sent)
            sent.family("postern_announcements_dropped_total", "counter", "Announcements given up after five attempts or a full queue.")
            sent.sample("postern_announcements_dropped_total", "", counts.dropped)
            sent.family("postern_announcements_pending", "gauge", "Announcements waiting to be sent or retried.")
            sent.sample("postern_announcements_pending", "", counts.pending)
            text += sent.text
        }
        if let journal = self.approvals.journal {
            let status = journal.status
            var store = PrometheusText()
            store.family("postern_store_up", "gauge", "Whether the approvals store answers (0: the last snapshot is enforced, "
                         + "new approvals and decisions are refused).")
            store.sample("postern_store_up", "", status.healthy ? 1 : 0)
            store.family("postern_store_journal_entries", "gauge", "Journal entries read from the store.")
            store.sample("postern_store_journal_entries", "", Int(status.sequence))
            store.family("postern_store_pending_entries", "gauge", "Entries applied here and not yet written to the store.")
            store.sample("postern_store_pending_entries", "", status.pending)
            text += store.text
        }
        return text
    }

    func api() -> AdminAPI {
        let operators = self.operators, credentials = self.credentials, running = self.running
        var openRecording: AdminAPI.OpenRecording?
        if let audit, audit.log.settings.recordingsPath != nil {
            openRecording = { @Sendable access in audit.open(access) }
        }
        return AdminAPI(
            operators: { operators.withLockedValue { $0 } },
            authenticate: { token in
                guard let current = credentials.withLockedValue({ $0 }) else {
                    return .failure(AdminAPI.Refused("credentials are still loading"))
                }
                do {
                    return .success(try current.bearer.authenticate(token, now: Int64(time(nil))))
                } catch {
                    return .failure(AdminAPI.Refused("\(error)"))
                }
            },
            revocations: revocations,
            approvals: approvals,
            record: { [audit] event in
                Log.info("postern: admin: \(event)")
                audit?.record(AuditRecord(kind: "admin.event").string("detail", event))
            },
            audit: { [audit] call in
                audit?.record(AuditRecord(kind: "admin.call").string("actor", call.actor).string("method", call.method)
                    .string("path", call.path).number("status", call.status).string("peer", call.peer))
            },
            openRecording: openRecording,
            inspect: AdminAPI.Inspect(configuration: { [running] in running.withLockedValue { ($0.sha256, $0.loadedAt) } },
                                      explain: { [running] caller, method, path, body in
                                          running.withLockedValue { $0.config }.explain(caller: caller, method: method,
                                                                                        path: path, body: body).json
                                      }))
    }
}
