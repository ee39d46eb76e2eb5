import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PosternAdmin
import PosternApprovals
import PosternAudit
import PosternClient
import PosternConfig
import PosternCore
import PosternProxy
import PosternMasking
import PosternTLS

/// `postern run`: starts the admin listener, waits for the credentials, starts the data
/// path, and drains on SIGTERM/SIGINT.
enum RunCommand {
    /// What `/readyz` reports from.
    private enum Phase {
        case waiting(String)
        case serving(ProxyServer)
        case draining
    }

    static func run(config: PosternConfig, masking: [String: MaskingPolicy], file: String?,
                    overrides: ConfigOverrides) async throws -> Bool {
        let signal = TerminationSignal()
        let hangup = HangupSignal()
        let threads = config.eventLoopThreads > 0 ? config.eventLoopThreads : System.coreCount
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let phase = NIOLockedValueBox(Phase.waiting("loading credentials"))
        let audit: AuditWiring?
        switch AuditWiring.open(config) {
        case .success(let opened): audit = opened
        case .failure(let error):
            Log.error("postern: \(error)")
            try await group.shutdownGracefully()
            return false
        }
        let journal: SharedJournal?
        switch StoreWiring.open(config) {
        case .success(let opened): journal = opened
        case .failure(let error):
            Log.error("postern: \(error)")
            audit?.close(AuditRecord(kind: "postern.stop").string("reason", "the approvals store did not open"))
            try await group.shutdownGracefully()
            return false
        }
        var webhook: ApprovalWebhook?
        if let announce = config.announcements {
            guard let secret = TextFile.read(announce.secretFile)?.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).first,
                  !secret.isEmpty else {
                Log.error("postern: announcements.secret_file: cannot read \(announce.secretFile) (or it is empty)")
                try await group.shutdownGracefully()
                return false
            }
            webhook = ApprovalWebhook(address: ServerAddress(host: announce.address.host, port: announce.address.port,
                                                             caFile: announce.useTLS ? announce.caFile : nil),
                                      path: announce.path, format: announce.format == "slack" ? .slack : .json,
                                      secret: Array(secret.utf8))
        }
        let adminState = AdminState(config: config, file: file, audit: audit, journal: journal, webhook: webhook)
        let announcing = webhook.map { webhook in
            Task {
                while !Task.isCancelled {
                    await webhook.deliver()
                    try? await Task.sleep(for: .milliseconds(250))
                }
            }
        }
        defer { announcing?.cancel() }
        let readiness: AdminServer.Readiness = {
            if let failure = audit?.log.status.failure { return "audit trail failing: \(failure)" }
            switch phase.withLockedValue({ $0 }) {
            case .waiting(let reason): return reason
            case .draining: return "draining"
            case .serving(let proxy):
                if let reason = await proxy.selfCheck() { return reason }
                let down = await UpstreamProbe.unreachable(config.upstreams, group: group)
                return down.isEmpty ? nil : "upstream not answering: " + down.joined(separator: ", ")
            }
        }
        let metrics: AdminServer.Metrics = { await adminState.metrics() }
        let degraded: AdminServer.Degraded = {
            guard let journal, let error = journal.status.lastError else { return [] }
            return ["approvals store \(journal.store.description) unavailable (\(error)): the last snapshot is enforced, "
                    + "new approvals and decisions are refused"]
        }
        let adminTLS: AdminServer.TLS? = config.adminTLS ? { @Sendable in adminState.currentCredentials?.adminTLS } : nil
        let admin = AdminServer(group: group, api: adminState.api(), metrics: metrics, readiness: readiness, degraded: degraded,
                                tls: adminTLS)
        let adminAddress = try await admin.start(host: config.admin.host, port: config.admin.port)
        // Probes and scrapes only: what the kubelet and Prometheus reach on the pod IP.
        let health = config.health.map { _ in AdminServer(group: group, metrics: metrics, readiness: readiness, degraded: degraded) }
        if let health, let address = config.health {
            let bound = try await health.start(host: address.host, port: address.port)
            Log.info("postern: health and metrics on \(bound.hostPort)")
        }
        var following: Task<Void, Never>?
        if let journal {
            guard await StoreWiring.firstRead(journal, signal: signal, waiting: { reason in phase.withLockedValue { $0 = .waiting(reason) } })
            else {
                await admin.stop()
                await health?.stop()
                audit?.close(AuditRecord(kind: "postern.stop").string("reason", "stopped while waiting for the approvals store"))
                try await group.shutdownGracefully()
                return true
            }
            following = Task { await journal.run() }
        }
        defer { following?.cancel() }
        let credentials: Credentials
        switch await CredentialWait.load(config, signal: signal, waiting: { reason in phase.withLockedValue { $0 = .waiting(reason) } }) {
        case .success(let loaded):
            credentials = loaded
            for problem in loaded.unavailableUpstreamCredentials {
                Log.warning("postern: \(problem): that function's requests are refused until it can be read")
            }
        case .failure(let problems):
            for problem in problems.problems { Log.error(problem) }
            if let received = signal.received {
                Log.info("postern: \(received) while waiting for credentials, stopping")
            }
            await admin.stop()
            await health?.stop()
            audit?.close(AuditRecord(kind: "postern.stop").string("reason", "credentials did not load"))
            try await group.shutdownGracefully()
            return signal.received != nil
        }

        let proxy = ProxyServer(config: config, credentials: credentials, masking: masking, group: group,
                                requestLog: config.requestLog, audit: audit?.log)
        adminState.update(credentials: credentials)
        await adminState.serving(proxy)
        let listenAddress = try await proxy.start()
        phase.withLockedValue { $0 = .serving(proxy) }
        Log.info("postern \(Version.current): listening on \(listenAddress.hostPort), admin on \(adminAddress.hostPort), "
            + "\(threads) event loop(s), \(config.tls == nil ? "cleartext" : "TLS"), upstreams: "
            + config.upstreams.map { "\($0.name)=\($0.wireProtocol.rawValue)://\($0.address)" }.joined(separator: " "))
        for warning in config.policy.warnings { Log.warning("postern: \(warning.key): \(warning.message)") }
        FreedMemory.release()
        audit?.record(AuditRecord(kind: "postern.start").string("version", Version.current)
            .string("config_sha256", ConfigWatcher.digest(of: file)).string("listen", listenAddress.hostPort)
            .string("origin", audit?.log.settings.origin))
        let watcher = Task {
            await watch(proxy, config: config, credentials: credentials, file: file, overrides: overrides, hangup: hangup,
                        admin: adminState, audit: audit)
        }
        defer { watcher.cancel() }

        let received = await signal.wait()
        Log.info("postern: \(received), draining (grace \(config.limits.drainGracePeriod))")
        phase.withLockedValue { $0 = .draining }
        await proxy.drain(grace: config.limits.drainGracePeriod)
        await admin.stop()
        await health?.stop()
        audit?.close(AuditRecord(kind: "postern.stop").string("reason", "\(received)"))
        try await group.shutdownGracefully()
        Log.info("postern: stopped")
        return true
    }
}

extension RunCommand {
    /// Every `identity.reload_interval`: the configuration (on SIGHUP or a settled change),
    /// then the credential files, each applied to the running proxy once it loads whole.
    private static func watch(_ proxy: ProxyServer, config: PosternConfig, credentials: Credentials, file: String?,
                              overrides: ConfigOverrides, hangup: HangupSignal, admin: AdminState,
                              audit: AuditWiring?) async {
        var configWatcher = ConfigWatcher(file: file, overrides: overrides, running: config, audit: audit)
        var credentialWatcher = CredentialWatcher(config: config, current: credentials)
        while !Task.isCancelled {
            try? await Task.sleep(for: configWatcher.running.identity.reloadInterval)
            if configWatcher.due(hangups: hangup.received) {
                if let applied = configWatcher.reload(generation: credentialWatcher.current.generation + 1) {
                    await proxy.update(config: applied.config, masking: applied.masking, credentials: applied.credentials)
                    admin.update(config: applied.config)
                    FreedMemory.release()
                    admin.update(credentials: applied.credentials)
                    credentialWatcher = CredentialWatcher(config: applied.config, current: applied.credentials)
                }
                continue
            }
            if let fresh = credentialWatcher.check(warn: Log.warning) {
                await proxy.update(credentials: fresh)
                admin.update(credentials: fresh)
                audit?.record(AuditRecord(kind: "credentials.reloaded").number("generation", fresh.generation))
                Log.info("postern: credentials reloaded (generation \(fresh.generation))")
            }
        }
    }
}

enum Version {
    static let current = "0.1.0"
}
