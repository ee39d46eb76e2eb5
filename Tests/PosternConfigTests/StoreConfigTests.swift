import Testing
@testable import PosternConfig

@Suite struct StoreConfigTests {
    @Test func anSQLiteStoreIsAFileBesideTheConfiguration() throws {
        let draft = PosternConfig.draft(yaml: AuditConfigTests.upstream + "store: { url: 'sqlite://state/p.sqlite', poll_interval: 250ms }",
                                        file: "/etc/postern/postern.yaml")
        #expect(draft.problems.isEmpty, "\(draft.problems)")
        #expect(draft.config.store?.location == .sqlite(path: "/etc/postern/state/p.sqlite"))
        #expect(draft.config.store?.pollInterval == .milliseconds(250))
        let absolute = PosternConfig.draft(yaml: AuditConfigTests.upstream + "store: { url: 'sqlite:///var/lib/p.sqlite' }", file: "f.yaml")
        #expect(absolute.config.store?.location == .sqlite(path: "/var/lib/p.sqlite"))
    }

    @Test func aStoreURLWithAPasswordOrWithoutAPlaceIsRefused() {
        for (url, expected) in [("'postgres://app:secret@db:5432/postern'", "password_file, not the url"),
                                ("'mysql://db/x'", "sqlite:///PATH or postgres://"), ("'sqlite://'", "names a file"),
                                ("'sqlite:///x', ca: ca.pem", "for a PostgreSQL store")] {
            let draft = PosternConfig.draft(yaml: AuditConfigTests.upstream + "store: { url: \(url) }", file: "f.yaml")
            let text = draft.problems.map(\.description).joined(separator: "\n")
            #expect(text.contains(expected), "\(url): \(text)")
        }
    }

    @Test func aPostgreSQLStoreNamesItsServerUserAndDatabase() {
        let draft = PosternConfig.draft(yaml: AuditConfigTests.upstream
            + "store: { url: 'postgres://postern@db.internal:5432/approvals', password_file: pw, ca: ca.pem }", file: "/etc/p/p.yaml")
        #expect(draft.problems.isEmpty, "\(draft.problems)")
        #expect(draft.config.store?.location == .postgres(host: "db.internal", port: 5432, user: "postern", database: "approvals"))
        #expect(draft.config.store?.passwordFile == "/etc/p/pw" && draft.config.store?.caFile == "/etc/p/ca.pem")
    }

    @Test func theStoreIsNotSwappedOnReload() {
        let before = PosternConfig.draft(yaml: AuditConfigTests.upstream + "store: { url: 'sqlite:///a' }", file: "f.yaml").config
        let after = PosternConfig.draft(yaml: AuditConfigTests.upstream + "store: { url: 'sqlite:///b' }", file: "f.yaml").config
        #expect(before.reloading(after).needRestart.contains("store"))
    }
}

@Suite struct AnnouncementConfigTests {
    @Test func aWebhookIsSignedAndOverHTTPSBeyondLoopback() throws {
        let draft = PosternConfig.draft(yaml: AuditConfigTests.upstream
            + "announcements: { url: 'https://hooks.example:443/t/1', secret_file: s, ca: ca.pem, format: slack }",
                                        file: "/etc/p/p.yaml")
        #expect(draft.problems.isEmpty, "\(draft.problems)")
        let hook = try #require(draft.config.announcements)
        #expect(hook.address.host == "hooks.example" && hook.path == "/t/1" && hook.useTLS && hook.format == "slack")
        #expect(hook.secretFile == "/etc/p/s" && hook.caFile == "/etc/p/ca.pem")
        for (yaml, expected) in [("{ url: 'http://hooks.example:80/x', secret_file: s }", "http only to loopback"),
                                 ("{ url: 'https://hooks.example:443/x' }", "announcements.secret_file"),
                                 ("{ url: 'http://127.0.0.1:9/x', secret_file: s, format: teams }", "json or slack")] {
            let bad = PosternConfig.draft(yaml: AuditConfigTests.upstream + "announcements: \(yaml)", file: "f.yaml")
            let text = bad.problems.map(\.description).joined(separator: "\n")
            #expect(text.contains(expected), "\(yaml): \(text)")
        }
    }
}
