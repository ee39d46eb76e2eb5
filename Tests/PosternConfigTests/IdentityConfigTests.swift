import Testing
@testable import PosternConfig

@Suite struct IdentityConfigTests {
    static let upstream = "upstreams: { m: { url: http://127.0.0.1:1 } }\n"

    func parse(_ yaml: String, file: String = "/etc/postern/postern.yaml") -> Result<PosternConfig, ConfigProblems> {
        PosternConfig.parse(yaml: Self.upstream + yaml, file: file).flatMap { $0.validated(file: file) }
    }

    func problems(_ yaml: String) -> String {
        if case .failure(let problems) = parse(yaml) { return problems.description }
        return ""
    }

    @Test func parsesTLSIdentityAndPublicRoutes() throws {
        let config = try parse("""
        listen:
          address: 0.0.0.0:8443
          tls: { certificate: svid.pem, private_key: /run/spiffe/key.pem, min_version: "1.3", client_certificates: required }
        identity:
          trust_domain: example.org
          x509_bundles: { example.org: bundle.pem, partner.org: /etc/partner.pem }
          max_token_lifetime: 5m
          leeway: 10s
          jwt_issuers:
            - { kind: jwt-svid, bundle: jwt_bundle.json, audience: "spiffe://example.org/postern" }
            - { kind: oidc, issuer: "https://idp.example.com", jwks: idp.jwks, audience: postern, identity_claim: email }
        routes:
          - { prefix: /healthz, upstream: m, public: true }
          - { prefix: /, upstream: m }
        """).get()
        let tls = try #require(config.tls)
        // Relative paths are taken from the configuration file's directory.
        #expect(tls.certificate == "/etc/postern/svid.pem" && tls.privateKey == "/run/spiffe/key.pem")
        #expect(tls.minimumVersion == "1.3" && tls.clientCertificates == .required && !tls.cleartext)
        #expect(config.identity.x509Bundles == ["example.org": "/etc/postern/bundle.pem", "partner.org": "/etc/partner.pem"])
        #expect(config.identity.maxTokenLifetime == .seconds(300) && config.identity.leeway == .seconds(10))
        #expect(config.identity.jwtIssuers.map(\.kind) == [.jwtSVID, .oidc])
        #expect(config.identity.jwtIssuers[1].identityClaim == "email")
        #expect(config.route(forPath: "/healthz")?.isPublic == true)
        #expect(config.route(forPath: "/v1/models")?.isPublic == false)
    }

    @Test func routesArePrivateByDefault() throws {
        let config = try parse("").get()
        #expect(config.route(forPath: "/anything")?.isPublic == false)
    }

    @Test(arguments: [
        ("listen: { tls: { certificate: a.pem } }", "listen.tls: TLS needs certificate and private_key"),
        ("listen: { tls: { certificate: a, private_key: b, min_version: '1.1' } }", "expected 1.2 or 1.3"),
        ("listen: { tls: { certificate: a, private_key: b, client_certificates: maybe } }", "expected one of none, optional, required"),
        ("listen: { tls: { certificate: a, private_key: b, client_certificates: required } }", "need identity.x509_bundles"),
        ("identity: { x509_bundles: { example.org: b.pem } }", "client certificates need TLS"),
        ("identity: { max_token_lifetime: 48h }", "a longer-lived token is a standing credential"),
        ("identity: { leeway: 10m }", "identity.leeway: at most 5m"),
        ("identity: { jwt_issuers: [{ kind: jwt-svid, bundle: b.json }] }", "needs bundle and audience"),
        ("identity: { jwt_issuers: [{ kind: oidc, jwks: j, audience: a }] }", "needs issuer"),
        ("identity: { jwt_issuers: [{ kind: saml, bundle: b, audience: a }] }", "expected jwt-svid or oidc"),
        ("identity: { jwt_issuers: [{ kind: jwt-svid, bundle: b, audience: a, identity_claim: email }] }", "identity_claim is for oidc"),
        ("identity: { trusted: yes }", "identity.trusted: unknown key"),
        ("routes: [{ prefix: /, upstream: m, public: maybe }]", "expected true or false"),
    ])
    func everyProblemNamesItsKey(_ yaml: String, _ expected: String) {
        let text = problems(yaml)
        #expect(text.contains(expected), "\(text)")
    }
}

@Suite struct MaskingConfigTests {
    static let upstream = "upstreams: { m: { url: http://127.0.0.1:1 } }\n"

    func parse(_ yaml: String) -> Result<PosternConfig, ConfigProblems> {
        PosternConfig.parse(yaml: Self.upstream + yaml, file: "/etc/postern/p.yaml").flatMap { $0.validated(file: "p.yaml") }
    }

    @Test func parsesPoliciesAndRouteChoices() throws {
        let config = try parse("""
        masking:
          default: { detectors: all }
          strict:
            detectors: [email, credit_card]
            action: partial
            keep_last: 2
            actions: { email: hash }
            hash_key_file: mask.key
            fields: [{ key: [ssn, password], action: redact }, { path: "$.choices[*].message.content", action: drop }]
            on_unparseable: pass
            descriptor_sets: [protos/inference.pb]
            max_message_bytes: 8388608
        routes:
          - { prefix: /a, upstream: m, masking: strict }
          - { prefix: /b, upstream: m, masking: none }
          - { prefix: /, upstream: m }
        """).get()
        let strict = try #require(config.masking.first { $0.name == "strict" })
        #expect(strict.detectors == ["email", "credit_card"] && strict.action == "partial" && strict.keepLast == 2)
        #expect(strict.actions == ["email": "hash"] && strict.hashKeyFile == "/etc/postern/mask.key")
        #expect(strict.fields.count == 2 && strict.onUnparseable == "pass")
        #expect(strict.descriptorSets == ["/etc/postern/protos/inference.pb"] && strict.maxMessageBytes == 8 << 20)
        #expect(config.maskingPolicy(for: config.route(forPath: "/a")!)?.name == "strict")
        #expect(config.maskingPolicy(for: config.route(forPath: "/b")!) == nil)
        #expect(config.maskingPolicy(for: config.route(forPath: "/c")!)?.name == "default")
    }

    @Test func readsStreamFormats() throws {
        let config = try parse("""
        masking:
          default:
            unknown_streams: refuse
            phone_regions: [DE, ch]
            stream_formats:
              - name: acme
                match: { $.object: [acme.chunk, acme.delta*], $.id: ~ }
                texts: [{ when: { $.kind: text }, path: $.delta.text, key: [$.index, $.part.n] }]
                ends: [{ when: { $.finished: true }, key: [$.index] }]
        """).get()
        let policy = try #require(config.masking.first)
        #expect(policy.unknownStreams == "refuse" && policy.phoneRegions == ["DE", "ch"])
        let format = try #require(policy.streamFormats.first)
        #expect(format.name == "acme")
        #expect(format.match == [.init(path: ["object"], values: ["acme.chunk", "acme.delta*"]), .init(path: ["id"], values: [])])
        #expect(format.texts == [.init(when: [.init(path: ["kind"], values: ["text"])], path: ["delta", "text"],
                                       key: [["index"], ["part", "n"]])])
        #expect(format.ends == [.init(when: [.init(path: ["finished"], values: ["true"])], key: [["index"]])])
    }

    @Test(arguments: [
        ("masking: { p: { detectors: [email, dna] } }", "unknown detector"),
        ("masking: { p: { action: scramble } }", "expected one of redact, partial, hash, drop"),
        ("masking: { p: { action: hash } }", "needs hash_key_file"),
        ("masking: { p: { fields: [{ path: 'choices[0]' }] } }", "expected a path"),
        ("masking: { p: { fields: [{ action: redact }] } }", "either key or path"),
        ("masking: { p: { on_unparseable: maybe } }", "expected deny or pass"),
        ("masking: { p: { descriptor_sets: inference.pb } }", "masking.p.descriptor_sets"),
        ("masking: { p: { max_message_bytes: 10 } }", "masking.p.max_message_bytes"),
        ("routes: [{ prefix: /, upstream: m, masking: missing }]", "no masking policy called 'missing'"),
        ("masking: { p: { unknown_streams: drop } }", "expected per_event or refuse"),
        ("masking: { p: { phone_regions: europe } }", "expected all or a list of regions"),
        ("masking: { p: { stream_formats: [{ name: a, texts: [{ path: $.t }] }] } }", "needs match"),
        ("masking: { p: { stream_formats: [{ name: a, match: { $.o: x } }] } }", "needs texts"),
        ("masking: { p: { stream_formats: [{ match: { $.o: x }, texts: [{ path: $.t }] }] } }", "needs a name"),
        ("masking: { p: { stream_formats: [{ name: a, match: { o: x }, texts: [{ path: $.t }] }] } }",
         "masking.p.stream_formats[0].match.o"),
        ("masking: { p: { stream_formats: [{ name: a, match: { $.o: x }, texts: [{ path: '$.c[0].t' }] }] } }",
         "masking.p.stream_formats[0].texts[0].path"),
        ("masking: { p: { stream_formats: [{ name: a, match: { $.o: x }, texts: [{ path: $.t, wen: {} }] }] } }",
         "unknown key"),
        ("masking: { p: { stream_formats: [{ name: a, match: { $.o: x }, texts: [{ path: $.t }], ends: [{ key: [$.i] }] }] } }",
         "an end needs a when"),
    ])
    func problemsAreReported(_ yaml: String, _ expected: String) {
        guard case .failure(let problems) = parse(yaml) else {
            Issue.record("accepted: \(yaml)")
            return
        }
        #expect(problems.description.contains(expected), "\(problems)")
    }
}
