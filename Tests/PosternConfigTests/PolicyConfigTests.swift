import Testing
@testable import PosternConfig
import PosternPolicy

@Suite struct PolicyConfigTests {
    static let upstream = "upstreams: { m: { url: 'http://127.0.0.1:1' } }\n"

    private func problems(_ yaml: String) -> [String] {
        switch PosternConfig.parse(yaml: Self.upstream + yaml, file: "p.yaml").flatMap({ $0.validated(file: "p.yaml") }) {
        case .success: return []
        case .failure(let problems): return problems.problems.map(\.description)
        }
    }

    @Test func aFullPolicyParses() throws {
        let yaml = Self.upstream + """
        profiles: [openai, triton]
        operations: [{ methods: [post], path: '/retrieve/{model}/**', function: data-access, name: retrieve, risk: high }]
        functions:
          inference: { callers: ['spiffe://td/ns/app/*'] }
          data-access: { callers: [spiffe://td/ns/data/sa/reader] }
        rules: [{ name: r, effect: deny, models: ['x-*'], versions: ['2*'], namespaces: [app],
                  when: { days: [mon, fri], hours: '09:00-17:00', time_zone: America/New_York } }]
        """
        let config = try PosternConfig.parse(yaml: yaml, file: "p.yaml").get().validated(file: "p.yaml").get()
        #expect(config.policy.isEnforced && config.policy.profiles == ["openai", "triton"])
        #expect(config.policy.rules.first?.versions == ["2*"])
        #expect(config.policy.rules.first?.times?.zone?.name == "America/New_York")
        let operation = config.policy.classifier().classify(method: "POST", path: "/retrieve/customers/1")
        #expect(operation?.function == "data-access" && operation?.model == "customers" && operation?.risk == .high)
    }

    @Test func oneIdentityInTwoFunctionsNeedsAWrittenReason() {
        let shared = """
        functions:
          inference: { callers: [spiffe://td/ns/app/sa/web] }
          deployment: { callers: [spiffe://td/ns/app/sa/web] }
        """
        #expect(problems(shared).contains { $0.contains("is a caller of deployment and inference") || $0.contains("is a caller of inference and deployment") })
        #expect(problems(shared + "\nshared_callers: [{ caller: spiffe://td/ns/app/sa/web, functions: [inference, deployment], reason: 'staging pod' }]").isEmpty)
        #expect(!problems(shared + "\nshared_callers: [{ caller: spiffe://td/ns/app/sa/web, functions: [inference, deployment] }]").isEmpty)
    }

    @Test(arguments: [
        ("profiles: [openai, nope]", "profiles[1]: no profile called 'nope'"),
        ("functions: { inference: { callers: ['*'] } }", "functions.inference.callers[0]"),
        ("functions: { inference: { callers: ['spiffe://td/ns/*/sa/x'] } }", "functions.inference.callers[0]"),
        ("functions: { inference: { callers: [a] } }\nguards: [{ name: g, bounds: { temperature: { max: hot } } }]",
         "guards[0].bounds.temperature.max: expected a number, got 'hot'"),
        ("functions: { inference: { callers: [a] } }\nguards: [{ name: g, bounds: { n: { min: 2, max: 1 } } }]", "min is above max"),
        ("functions: { inference: { callers: [a] } }\nguards: [{ name: g, system_prompt_sha256: [abc] }]", "64 digits"),
        ("functions: { inference: { callers: [a] } }\nguards: [{ name: g, max_body: 2MiB }]", "above limits.max_inspected_body"),
        ("functions: { inference: { callers: [a] } }\nguards: [{ name: g }, { name: g }]", "another guard is called 'g'"),
        ("guards: [{ name: g }]", "guards apply to authorized requests: configure functions"),
        ("rules: [{ name: a, effect: deny, when: { time_zone: Mars/Olympus_Mons } }]", "no time zone 'Mars/Olympus_Mons'"),
        ("rules: [{ name: a, effect: deny, when: { time_zone: ../../etc/passwd } }]", "is not a time zone name"),
        ("rules: [{ name: a, effect: deny, when: { time_zone: UTC, utc_offset: '+01:00' } }]", "not both"),
        ("rules: [{ name: a, effect: maybe }]", "rules[0].effect: expected one of allow, deny, approval"),
        ("rules: [{ name: a, effect: deny }, { name: a, effect: allow }]", "another rule is called 'a'"),
        ("rules: [{ name: a, effect: deny, functions: [inferense] }]", "no function called 'inferense'"),
        ("operations: [{ path: 'nope', function: f, name: n }]", "operations[0].path"),
        ("operations: [{ path: /x }]", "needs path, function and name"),
    ])
    func problemsNameTheirKeys(_ yaml: String, _ expected: String) {
        let found = problems(yaml)
        #expect(found.contains { $0.contains(expected) }, "\(found)")
    }

    @Test func patternsOverlapOnlyWhereTheyCoverTheSameIdentity() {
        let app = CallerPattern("spiffe://td/ns/app/*")!, web = CallerPattern("spiffe://td/ns/app/sa/web")!
        let ops = CallerPattern("spiffe://td/ns/ops/sa/admin")!
        #expect(PolicySettings.overlap(app, web) && PolicySettings.overlap(web, app))
        #expect(!PolicySettings.overlap(app, ops) && !PolicySettings.overlap(ops, app) && !PolicySettings.overlap(web, ops))
        #expect(PolicySettings.overlap(app, CallerPattern("spiffe://td/ns/*")!))
    }

    @Test func adminOperatorsAreNotFunctionCallers() {
        let functions = "functions: { inference: { callers: ['spiffe://td/ns/app/*'] } }\n"
        #expect(problems(functions + "admin: { operators: ['spiffe://td/ns/sre/sa/oncall'] }").isEmpty)
        #expect(problems(functions + "admin: { operators: ['spiffe://td/ns/app/sa/web'] }")
            .contains { $0.contains("admin.operators[0]") && $0.contains("inference") })
    }

    @Test func aFunctionWithoutCallersIsAWarningNotAnError() throws {
        let yaml = Self.upstream + "functions: { inference: { callers: [] }, telemetry: { callers: [a] } }"
        let config = try PosternConfig.parse(yaml: yaml, file: "p.yaml").get().validated(file: "p.yaml").get()
        #expect(config.policy.warnings.map(\.key) == ["functions.inference.callers"])
        let open = try PosternConfig.parse(yaml: Self.upstream, file: "p.yaml").get()
        #expect(open.policy.warnings.first?.message.contains("every verified identity may call") == true)
        let guarded = try PosternConfig.parse(yaml: Self.upstream + """
            functions: { inference: { callers: [a] }, deployment: { callers: [b] } }
            guards: [{ name: all }, { name: ops, functions: [deployment] }]
            """, file: "p.yaml").get()
        #expect(guarded.policy.warnings.map(\.key) == ["guards[1]"])
        #expect(guarded.policy.warnings[0].message.contains("LogSettings"))
    }

    @Test func guardsParse() throws {
        let yaml = Self.upstream + """
        functions: { inference: { callers: [a] } }
        limits: { max_inspected_body: 256KiB }
        guards:
          - name: chat
            operations: [chat_completions]
            pinned: { model: [llama-3-8b, '7'], stream: true, n: 1 }
            bounds: { temperature: { min: 0, max: 1.5 }, max_tokens: { max: 512, required: true } }
            forbidden: [logit_bias]
            system_prompt_sha256: [E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855]
            max_body: 64KiB
            on_violation: approval
        """
        let config = try PosternConfig.parse(yaml: yaml, file: "p.yaml").get().validated(file: "p.yaml").get()
        let g = try #require(config.policy.guards.first)
        #expect(g.pinned["model"] == [.string("llama-3-8b"), .string("7")] && g.pinned["stream"] == [.bool(true)]
                && g.pinned["n"] == [.number(1)])
        #expect(g.bounds["max_tokens"] == ParameterGuard.Bound(max: 512, required: true) && g.forbidden == ["logit_bias"])
        #expect(g.systemPrompts == ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"])
        #expect(g.maxBody == 64 << 10 && g.onViolation == .approval && g.functions == ["inference"])
        #expect(config.requestPolicy().inspectionLimit == 256 << 10)
    }

    @Test func explainReadsTheBodyWhereTheDecisionDoes() throws {
        let yaml = Self.upstream + """
        functions: { inference: { callers: ['spiffe://td/ns/app/*'] } }
        rules: [{ name: no-secret, effect: deny, models: ['secret-*'] }]
        """
        let config = try PosternConfig.parse(yaml: yaml, file: "p.yaml").get().validated(file: "p.yaml").get()
        let web = "spiffe://td/ns/app/sa/web"
        let blind = config.explain(caller: web, method: "POST", path: "/v1/chat/completions")
        #expect(blind.note?.contains("--body") == true && blind.decision?.outcome == .allow)
        let secret = config.explain(caller: web, method: "POST", path: "/v1/chat/completions", body: Array(#"{"model":"secret-1"}"#.utf8))
        #expect(secret.decision?.rule == "no-secret" && secret.operation?.model == "secret-1" && secret.note == nil)
        #expect(config.explain(caller: web, method: "POST", path: "/v1/chat/completions", body: Array("{".utf8)).refusal?
                .hasPrefix("400:") == true)
    }

    @Test func explainWalksTheStepsWithoutSendingAnything() throws {
        let yaml = Self.upstream + """
        routes: [{ prefix: /v2/health/, upstream: m, public: true }, { prefix: /, upstream: m }]
        functions:
          inference: { callers: ['spiffe://td/ns/app/*'] }
          deployment: { callers: [spiffe://td/ns/mlops/sa/deployer] }
        rules: [{ name: loads-need-approval, effect: approval, functions: [deployment] }]
        shadow_rules: [{ name: tighter, effect: deny, namespaces: [app] }]
        """
        let config = try PosternConfig.parse(yaml: yaml, file: "p.yaml").get().validated(file: "p.yaml").get()
        let web = "spiffe://td/ns/app/sa/web"
        let chat = config.explain(caller: web, method: "post", path: "/v2/health/../../v1/chat/completions")
        #expect(chat.path == "/v1/chat/completions" && chat.operation?.name == "chat_completions")
        #expect(chat.decision?.outcome == .allow && chat.shadowDecision?.rule == "tighter")
        let load = config.explain(caller: "spiffe://td/ns/mlops/sa/deployer", method: "POST",
                                  path: "/v2/repository/models/llama/load")
        #expect(load.decision == Decision(.needsApproval, rule: "loads-need-approval",
                                          reason: "model_load on model 'llama' needs approval (rule 'loads-need-approval')"))
        #expect(config.explain(caller: web, method: "POST", path: "/v2/repository/models/llama/load").decision?.outcome == .deny)
        #expect(config.explain(caller: nil, method: "GET", path: "/v2/health/ready").refusal == nil)
        #expect(config.explain(caller: nil, method: "GET", path: "/v1/models").refusal == "401: no credential")
        #expect(config.explain(caller: web, method: "GET", path: "/v1/%2e%2e%2f").refusal?.contains("path refused") == true)
        #expect(chat.json.contains(#""decision":{"outcome":"allow","rule":"functions.inference.callers""#))
    }

    @Test func contextConditionsParse() throws {
        let yaml = Self.upstream + """
        functions: { deployment: { callers: [spiffe://td/ns/mlops/sa/d] } }
        rules:
          - { name: office-hours, effect: deny, functions: [deployment],
              when: { days: [sat, sun], hours: '22:00-06:00', utc_offset: '+01:00' },
              headers: { X-Env: [prod, staging] }, sources: [10.0.0.0/8, 'fd00::/8', 192.0.2.7] }
        """
        let rule = try PosternConfig.parse(yaml: yaml, file: "p.yaml").get().policy.rules[0]
        #expect(rule.times == TimeWindow(days: [0, 6], from: 22 * 60, to: 6 * 60, utcOffsetMinutes: 60))
        #expect(rule.headers == ["x-env": ["prod", "staging"]])
        #expect(rule.sources.map(\.prefixLength) == [8, 8, 32] && rule.sources[1].network.count == 16)
        for (bad, key) in [("when: { days: [someday] }", "when.days"), ("when: { hours: '9-5' }", "when.hours"),
                           ("when: { utc_offset: '+25:00' }", "when.utc_offset"), ("sources: [10.0.0.0/33]", "sources[0]"),
                           ("sources: [nowhere]", "sources[0]")] {
            let found = problems("rules: [{ name: r, effect: deny, \(bad) }]")
            #expect(found.contains { $0.contains("rules[0].\(key)") }, "\(bad): \(found)")
        }
    }

    @Test func aDeploymentReachableByAnInferenceCallerIsAnError() {
        let functions = """
        functions:
          inference: { callers: ['spiffe://td/ns/app/*'] }
          deployment: { callers: [spiffe://td/ns/mlops/sa/d] }
        """
        let crossing = problems(functions + "\nrules: [{ name: open-loads, effect: allow, operations: [model_load] }]")
        #expect(crossing.contains { $0.contains("rules[0]: allow rule 'open-loads' lets spiffe://td/ns/app/*, a caller of inference") })
        #expect(!problems(functions + "\nrules: [{ name: ok, effect: allow, functions: [deployment], namespaces: [mlops] }]")
            .contains { $0.contains("reach deployment") })
        #expect(!problems(functions + "\nrules: [{ name: chat, effect: allow, operations: [chat_completions] }]")
            .contains { $0.contains("reach deployment") })
        #expect(problems(functions + "\nrules: [{ name: x, effect: allow, callers: [spiffe://td/ns/app/sa/web], functions: [deployment] }]")
            .contains { $0.contains("reach deployment") })
    }
}

@Suite struct ConfigReloadTests {
    private func config(_ yaml: String) throws -> PosternConfig {
        try PosternConfig.parse(yaml: PolicyConfigTests.upstream + yaml, file: "r.yaml").get()
    }

    @Test func policyAppliesAndListenersWaitForARestart() throws {
        let running = try config("listen: { address: 127.0.0.1:8000 }\nfunctions: { inference: { callers: [a] } }")
        let changed = try config("""
            listen: { address: 127.0.0.1:9000 }
            functions: { inference: { callers: [a, b] } }
            rules: [{ name: r, effect: deny, models: [x] }]
            runtime: { event_loop_threads: 2 }
            """)
        let reload = running.reloading(changed)
        #expect(reload.applied == ["functions", "rules"] && reload.needRestart == ["listen", "runtime"])
        #expect(reload.merged.listen.port == 8000 && reload.merged.eventLoopThreads == 0)
        #expect(reload.merged.policy.functions[0].callers.count == 2 && reload.merged.policy.rules.count == 1)
        #expect(running.reloading(running).applied.isEmpty)
    }
}
