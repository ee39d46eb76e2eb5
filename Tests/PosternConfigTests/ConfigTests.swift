import Testing
@testable import PosternConfig

@Suite struct ConfigValueTests {
    @Test func hostPorts() throws {
        #expect(try ConfigValues.hostPort("127.0.0.1:8080").get() == HostPort(host: "127.0.0.1", port: 8080))
        #expect(try ConfigValues.hostPort("[::1]:9").get() == HostPort(host: "::1", port: 9))
        #expect(try ConfigValues.hostPort(":8443").get() == HostPort(host: "0.0.0.0", port: 8443))
        for bad in ["localhost", "a:70000", "::1:80", "[::1]80", "h:-1"] {
            #expect(throws: ConfigValueError.self) { try ConfigValues.hostPort(bad).get() }
        }
    }

    @Test func upstreamURLs() throws {
        let (kind, address) = try ConfigValues.upstreamURL("h2c://127.0.0.1:8001/").get()
        #expect(kind == .h2c && address.port == 8001)
        #expect(try ConfigValues.upstreamURL("http://model:8000").get().0 == .http1)
        for bad in ["https://x:1", "http://x:1/v1", "http://x:0", "x:1"] {
            #expect(throws: ConfigValueError.self) { try ConfigValues.upstreamURL(bad).get() }
        }
    }

    @Test func durationsAndSizes() throws {
        #expect(try ConfigValues.duration("250ms").get() == .milliseconds(250))
        #expect(try ConfigValues.duration("10s").get() == .seconds(10))
        #expect(try ConfigValues.duration("5m").get() == .seconds(300))
        #expect(try ConfigValues.duration("0").get() == .zero)
        #expect(throws: ConfigValueError.self) { try ConfigValues.duration("30").get() }
        #expect(throws: ConfigValueError.self) { try ConfigValues.duration("soon").get() }
        #expect(throws: ConfigValueError.self) { try ConfigValues.duration("-1s").get() }
        #expect(try ConfigValues.byteSize("64KiB").get() == 65536)
        #expect(try ConfigValues.byteSize("16MiB").get() == 16 << 20)
        #expect(try ConfigValues.byteSize("512").get() == 512)
        for spelling in ["64mb", "64MiB", "64mib", "64 MB", "64M"] {
            #expect(try ConfigValues.byteSize(spelling).get() == 64 << 20, "\(spelling)")
        }
        #expect(try ConfigValues.byteSize("4kib").get() == 4096)
        #expect(throws: ConfigValueError.self) { try ConfigValues.byteSize("lots").get() }
    }

    @Test(arguments: ["99999999999999GiB", "9223372036854775807KiB", "2TiB", "1099511627777"])
    func oversizedSizesAreProblemsNotTraps(_ text: String) {
        #expect(throws: ConfigValueError.self) { try ConfigValues.byteSize(text).get() }
    }

    @Test(arguments: ["9999999999999999h", "9223372036854775807s", "8d", "169h", "604801"])
    func overlongDurationsAreProblemsNotTraps(_ text: String) {
        #expect(throws: ConfigValueError.self) { try ConfigValues.duration(text).get() }
    }

    @Test func theLargestAcceptedValuesStillConvert() throws {
        #expect(try ConfigValues.duration("168h").get() == .seconds(604_800))
        #expect(try ConfigValues.byteSize("1024GiB").get() == 1 << 40)
    }
}

@Suite struct ConfigFileTests {
    @Test func parsesAFullFile() throws {
        let yaml = """
        listen: { address: 0.0.0.0:8443 }
        admin: { address: 127.0.0.1:9901 }
        upstreams:
          http: { url: http://127.0.0.1:8000, response_timeout: 2m, max_idle_connections: 8, idle_timeout: 3s, max_connections: 16 }
          grpc: { url: h2c://127.0.0.1:8001 }
        routes:
          - { prefix: /inference.GRPCInferenceService/, upstream: grpc }
          - { prefix: /, upstream: http }
        runtime: { event_loop_threads: 2 }
        limits: { max_request_body: 1MiB, header_read_timeout: 3s, max_concurrent_streams: 10 }
        """
        let config = try PosternConfig.parse(yaml: yaml, file: "t.yaml").get().validated(file: "t.yaml").get()
        #expect(config.upstreams.map(\.name) == ["http", "grpc"])
        #expect(config.upstream(named: "http")?.responseTimeout == .seconds(120))
        #expect(config.upstream(named: "http")?.maxIdleConnections == 8)
        #expect(config.upstream(named: "http")?.idleTimeout == .seconds(3))
        #expect(config.upstream(named: "http")?.maxConnections == 16)
        #expect(config.eventLoopThreads == 2)
        #expect(config.limits.maxRequestBody == 1 << 20)
        #expect(config.limits.headerReadTimeout == .seconds(3))
        #expect(config.limits.maxConcurrentStreams == 10)
        #expect(config.route(forPath: "/inference.GRPCInferenceService/ModelInfer")?.upstream == "grpc")
        #expect(config.route(forPath: "/v2/models/m/infer")?.upstream == "http")
    }

    @Test func reportsEveryProblemWithKeyAndLine() {
        let yaml = """
        listen: { address: nowhere }
        upstreams:
          a: { url: ftp://x:1, colour: red }
        limits: { idle_timeout: soon, max_connections: 0 }
        extra: true
        """
        guard case .failure(let problems) = PosternConfig.parse(yaml: yaml, file: "f.yaml") else {
            Issue.record("expected problems")
            return
        }
        let described = problems.problems.map(\.description)
        #expect(described.contains { $0.hasPrefix("f.yaml:1: listen.address:") })
        #expect(described.contains { $0.hasPrefix("f.yaml:3: upstreams.a.colour: unknown key") })
        #expect(described.contains { $0.hasPrefix("f.yaml:3: upstreams.a.url:") })
        #expect(described.contains { $0.hasPrefix("f.yaml:4: limits.idle_timeout:") })
        #expect(described.contains { $0.hasPrefix("f.yaml:4: limits.max_connections:") })
        #expect(described.contains { $0.hasPrefix("f.yaml:5: extra: unknown key") })
    }

    @Test func assembleReportsParseAndValidationProblemsTogetherWithLines() {
        let yaml = """
        upstreams:
          a: { url: 'http://127.0.0.1:1' }
          b: { url: 'ftp://nowhere' }
        routes:
          - { prefix: /v1, upstream: missing }
          - { prefix: /v2, upstream: b }
        identity: { max_token_lifetime: 48h, colour: red }
        limits: { stream_window: 1KiB }
        """
        let draft = PosternConfig.draft(yaml: yaml, file: "f.yaml")
        var assembled = draft
        for var problem in draft.config.validationProblems(file: "f.yaml") {
            problem.line = draft.line(of: problem.key)
            assembled.problems.append(problem)
        }
        let described = assembled.problems.map(\.description)
        #expect(described.contains { $0.hasPrefix("f.yaml:3: upstreams.b.url:") })
        #expect(described.contains { $0.hasPrefix("f.yaml:5: routes[0].upstream: no upstream called 'missing'") })
        #expect(described.contains { $0.hasPrefix("f.yaml:7: identity.colour: unknown key") })
        #expect(described.contains { $0.hasPrefix("f.yaml:7: identity.max_token_lifetime:") })
        #expect(described.contains { $0.hasPrefix("f.yaml:8: limits.stream_window:") })
        // An upstream whose url is wrong is still declared: its routes are not reported too.
        #expect(!described.contains { $0.contains("routes[1]") })
    }

    @Test func invalidYAMLIsOneProblemNotACrash() {
        guard case .failure(let problems) = PosternConfig.parse(yaml: "a: [unclosed", file: "f.yaml") else {
            Issue.record("expected a failure")
            return
        }
        #expect(problems.problems.count == 1 && problems.problems[0].message.hasPrefix("not valid YAML"))
    }

    @Test func validationNeedsUpstreamsAndKnownRouteTargets() {
        var config = PosternConfig()
        config.routes = [Route(prefix: "/", upstream: "nope")]
        guard case .failure(let problems) = config.validated(file: "c") else {
            Issue.record("expected problems")
            return
        }
        #expect(problems.problems.map(\.key) == ["upstreams", "routes[0].upstream"])
    }

    @Test func limitsThatFeedHTTP2SettingsAreBounded() {
        var config = PosternConfig()
        config.upstreams = [Upstream(name: "m", wireProtocol: .http1, address: HostPort(host: "a", port: 1))]
        config.limits.maxHeaderListSize = 8 << 30  // would not fit SETTINGS_MAX_HEADER_LIST_SIZE
        config.limits.streamWindow = 1 << 31
        guard case .failure(let problems) = config.validated(file: "c") else {
            Issue.record("expected problems")
            return
        }
        #expect(Set(problems.problems.map(\.key)) == ["limits.max_header_list_size", "limits.stream_window",
                                                      "limits.connection_window"])
    }

    @Test func commandLineUpstreamsReplaceOrAdd() throws {
        var config = PosternConfig()
        config.upstreams = [Upstream(name: "default", wireProtocol: .http1, address: HostPort(host: "a", port: 1))]
        var overrides = ConfigOverrides()
        overrides.upstreams = [ConfigOverrides.upstreamArgument("h2c://b:2"),
                               ConfigOverrides.upstreamArgument("grpc=h2c://c:3")]
        let merged = try config.applying(overrides).get()
        #expect(merged.upstream(named: "default")?.wireProtocol == .h2c)
        #expect(merged.upstream(named: "default")?.address == HostPort(host: "b", port: 2))
        #expect(merged.upstream(named: "grpc")?.address.port == 3)
        #expect(ConfigOverrides.upstreamArgument("http://x:1").name == "default")
    }

    @Test func withoutRoutesTheOnlyOrDefaultUpstreamServesAll() {
        var config = PosternConfig()
        config.upstreams = [Upstream(name: "m", wireProtocol: .http1, address: HostPort(host: "a", port: 1))]
        #expect(config.route(forPath: "/anything")?.upstream == "m")
        config.upstreams.append(Upstream(name: "default", wireProtocol: .h2c, address: HostPort(host: "a", port: 2)))
        #expect(config.route(forPath: "/anything")?.upstream == "default")
        config.routes = [Route(prefix: "/v1/", upstream: "m")]
        #expect(config.route(forPath: "/v2/x")?.upstream == nil)
    }

    @Test func routePrefixesCoverWholeSegmentsAndMustBeNormal() {
        var config = PosternConfig()
        config.upstreams = [Upstream(name: "m", wireProtocol: .http1, address: HostPort(host: "a", port: 1))]
        config.routes = [Route(prefix: "/v2", upstream: "m", isPublic: true), Route(prefix: "/", upstream: "m")]
        #expect(config.route(forPath: "/v2/models")?.isPublic == true)
        #expect(config.route(forPath: "/v2x")?.isPublic == false)
        let yaml = """
        upstreams: { m: { url: 'http://a:1' } }
        routes:
          - { prefix: '/v2/../v1', upstream: m }
          - { prefix: '/v1//chat', upstream: m }
          - { prefix: '/v1/%2F', upstream: m }
        """
        guard case .failure(let problems) = PosternConfig.parse(yaml: yaml, file: "f.yaml") else {
            Issue.record("expected problems")
            return
        }
        #expect(problems.problems.map(\.key) == ["routes[0].prefix", "routes[1].prefix", "routes[2].prefix"])
        #expect(problems.problems[0].message.contains("'/v1'"))
    }
}

@Suite struct ConfigRandomInputTests {
    /// Mutations of a valid file: each parses or reports problems, never traps.
    @Test func mutatedFilesAreParsedOrRefused() {
        let valid = Array("""
        listen: { address: 127.0.0.1:8080 }
        upstreams:
          m: { url: http://127.0.0.1:8000, response_timeout: 30s }
        routes:
          - { prefix: /v1/, upstream: m }
        limits: { max_request_body: 1MiB, idle_timeout: 5m }
        """.utf8)
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array(":{}[]-,#&*!|>'\"%@`\n\t 0123456789abcKMiBs/.".utf8)
        for _ in 0..<3000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0...2, using: &rng) {
                case 0: bytes[at] = alphabet.randomElement(using: &rng)!
                case 1: bytes.insert(alphabet.randomElement(using: &rng)!, at: at)
                default: if bytes.count > 1 { bytes.remove(at: at) }
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            switch PosternConfig.parse(yaml: text, file: "f") {
            case .success(let config): _ = config.validated(file: "f")
            case .failure(let problems): #expect(!problems.problems.isEmpty)
            }
        }
    }

    @Test func valueParsersNeverTrapOnArbitraryText() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("[]:/.-0123456789hmsKMGiBx2c".utf8)
        for _ in 0..<5000 {
            let text = String(decoding: (0..<Int.random(in: 0...24, using: &rng)).map { _ in
                alphabet.randomElement(using: &rng)!
            }, as: UTF8.self)
            _ = ConfigValues.hostPort(text)
            _ = ConfigValues.upstreamURL(text)
            _ = ConfigValues.duration(text)
            _ = ConfigValues.byteSize(text)
        }
    }
}
