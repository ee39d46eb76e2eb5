import PosternAudit
import Testing
@testable import PosternConfig

@Suite struct AuditConfigTests {
    static let upstream = "upstreams: { a: { url: 'http://127.0.0.1:1' } }\n"
    /// A cosignature/v1 verifier key (type 0x04), its id computed by the spec's rule.
    static let witnessKey = try! NoteVerifierKey(name: "w.example/w1", publicKey: [UInt8](repeating: 7, count: 32),
                                                 type: NoteVerifierKey.cosignatureV1).encoded

    @Test func everyAuditKeyIsRead() throws {
        let draft = PosternConfig.draft(yaml: Self.upstream + """
        audit:
          path: logs/audit.jsonl
          key: keys/audit.pem
          origin: postern/pod-a
          sync: always
          checkpoint_interval: 1s
          heartbeat: 10s
          rotate_size: 8MiB
          syslog: { address: 'siem:6514', format: ocsf, facility: 17, tls: { ca: ca.pem, server_name: siem.internal } }
          recordings: { max_exchange_bytes: 64KiB, retention: 72h }
          witness: { url: 'https://witness.example:8443/log-a', key: '\(Self.witnessKey)', ca: ca.pem, interval: 30s }
          on_failure: deny
        """, file: "/etc/postern/postern.yaml")
        #expect(draft.problems.isEmpty, "\(draft.problems)")
        let audit = try #require(draft.config.audit)
        #expect(audit.path == "/etc/postern/logs/audit.jsonl" && audit.keyFile == "/etc/postern/keys/audit.pem")
        #expect(audit.origin == "postern/pod-a" && audit.sync == .always && audit.rotateSize == 8 << 20)
        #expect(audit.heartbeat == .seconds(10) && audit.checkpointInterval == .seconds(1))
        #expect(audit.syslog?.format == .ocsf && audit.syslog?.facility == 17 && audit.syslog?.address.port == 6514)
        #expect(audit.syslog?.caFile == "/etc/postern/ca.pem" && audit.syslog?.serverName == "siem.internal")
        #expect(audit.recordingCap == 64 << 10 && audit.recordingRetention == .seconds(72 * 3600))
        let witness = try #require(audit.witness)
        #expect(witness.address.host == "witness.example" && witness.address.port == 8443 && witness.useTLS)
        #expect(witness.path == "/log-a" && witness.key == Self.witnessKey && witness.caFile == "/etc/postern/ca.pem")
        #expect(witness.interval == .seconds(30))
    }

    @Test func aBadAuditSectionIsRefusedWithEveryReason() {
        let draft = PosternConfig.draft(yaml: Self.upstream + """
        audit:
          origin: 'has space'
          sync: sometimes
          heartbeat: 0
          on_failure: serve
          syslog: { format: ocsf, tls: { server_name: x } }
          witness: { url: 'ftp://w', key: '\(try! NoteVerifierKey(name: "log", publicKey: [UInt8](repeating: 7, count: 32)).encoded)' }
        """, file: "f.yaml")
        let text = draft.problems.map(\.description).joined(separator: "\n")
        for expected in ["audit.path", "audit.key", "audit.origin", "audit.sync", "audit.heartbeat", "audit.on_failure",
                         "audit.syslog.tls.ca", "audit.syslog.address", "audit.witness.url", "audit.witness.key"] {
            #expect(text.contains(expected), "\(expected) in \(text)")
        }
    }

    @Test func theAuditTrailIsNotSwappedOnReload() throws {
        let before = PosternConfig.draft(yaml: Self.upstream + "audit: { path: a.jsonl, key: k.pem }", file: "f.yaml").config
        let after = PosternConfig.draft(yaml: Self.upstream + "audit: { path: b.jsonl, key: k.pem }", file: "f.yaml").config
        #expect(before.reloading(after).needRestart.contains("audit"))
    }
}
