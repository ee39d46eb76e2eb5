import Testing
@testable import PosternPolicy

@Suite struct AuthorizerTests {
    static let frontend = "spiffe://prod.example.org/ns/app/sa/frontend"
    static let deployer = "spiffe://prod.example.org/ns/mlops/sa/deployer"

    static let functions = [
        Authorizer.Function(name: "inference", callers: [.exact(frontend), CallerPattern("spiffe://prod.example.org/ns/batch/*")!]),
        Authorizer.Function(name: "deployment", callers: [.exact(deployer)]),
    ]

    private func chat(model: String? = "llama-3-8b") -> Operation {
        Operation(function: "inference", name: "chat_completions", model: model, profile: "openai")
    }
    private let load = Operation(function: "deployment", name: "model_load", model: "llama-3-8b", risk: .high, profile: "triton")

    @Test func functionsAdmitTheirCallersOnly() {
        let authorizer = Authorizer(functions: Self.functions, rules: [])
        #expect(authorizer.decide(CallerFacts(id: Self.frontend), chat()) ==
                Decision(.allow, rule: "functions.inference.callers", reason: "allowed"))
        #expect(authorizer.decide(CallerFacts(id: "spiffe://prod.example.org/ns/batch/sa/job"), chat()).outcome == .allow)
        let crossed = authorizer.decide(CallerFacts(id: Self.frontend), load)
        #expect(crossed.outcome == .deny && crossed.rule == "default-deny")
        #expect(authorizer.decide(CallerFacts(id: "spiffe://prod.example.org/ns/batchx/sa/job"), chat()).outcome == .deny)
        #expect(authorizer.decide(CallerFacts(id: "spiffe://other.org/ns/batch/sa/job"), chat()).outcome == .deny)
    }

    @Test func aDenyBeatsEveryAllowWhateverTheOrder() {
        var deny = PolicyRule(name: "no-batch-on-llama", effect: .deny)
        deny.namespaces = ["batch"]
        deny.models = ["llama-*"]
        var allow = PolicyRule(name: "batch-may-chat", effect: .allow)
        allow.callers = [CallerPattern("spiffe://prod.example.org/ns/batch/*")!]
        let batch = CallerFacts(id: "spiffe://prod.example.org/ns/batch/sa/job")
        for rules in [[deny, allow], [allow, deny]] {
            let authorizer = Authorizer(functions: Self.functions, rules: rules)
            #expect(authorizer.decide(batch, chat()) .rule == "no-batch-on-llama")
            #expect(authorizer.decide(batch, chat(model: "mistral-7b")).outcome == .allow)
            #expect(authorizer.decide(CallerFacts(id: Self.frontend), chat()).outcome == .allow)
        }
    }

    @Test func approvalRulesHoldWhatIsOtherwiseAllowed() {
        var approval = PolicyRule(name: "loads-need-approval", effect: .approval)
        approval.functions = ["deployment"]
        let authorizer = Authorizer(functions: Self.functions, rules: [approval])
        #expect(authorizer.decide(CallerFacts(id: Self.deployer), load).outcome == .needsApproval)
        // Approval never lets in a caller who is not allowed at all.
        #expect(authorizer.decide(CallerFacts(id: Self.frontend), load).outcome == .deny)
    }

    @Test func callerFactsReadKubernetesNamesFromSPIFFEIDs() {
        let facts = CallerFacts(id: Self.frontend)
        #expect(facts.namespace == "app" && facts.serviceAccount == "frontend")
        #expect(CallerFacts(id: "alice@example.com").namespace == nil)
    }

    @Test func patternsAreAnchoredAndWhole() {
        #expect(CallerPattern("spiffe://prod.example.org/ns/app/*")?.covers(Self.frontend) == true)
        #expect(CallerPattern("spiffe://prod.example.org/*")?.covers("spiffe://prod.example.org.evil/x") == false)
        for bad in ["*", "spiffe://*", "spiffe:///*", "spiffe://a/*/b", "a*b", ""] {
            #expect(CallerPattern(bad) == nil, "\(bad)")
        }
    }

    @Test(arguments: [("llama-*", "llama-3-8b", true), ("llama-*", "mistral", false), ("*-8b", "llama-3-8b", true),
                      ("a*b*c", "aXXbYYc", true), ("exact", "exact", true), ("exact", "exactly", false)])
    func globs(_ pattern: String, _ text: String, _ expected: Bool) {
        #expect(Glob.matches(pattern, text) == expected)
    }

    @Test func oidcGroupsAreCallers() {
        let authorizer = Authorizer(functions: [Authorizer.Function(name: "inference", callers: [CallerPattern("group:ml-users")!])],
                                    rules: [])
        #expect(authorizer.decide(CallerFacts(id: "ann@example.com", groups: ["staff", "ml-users"]), chat()).outcome == .allow)
        #expect(authorizer.decide(CallerFacts(id: "bob@example.com", groups: ["staff"]), chat()).outcome == .deny)
        // A subject that merely looks like the group is not in it.
        #expect(authorizer.decide(CallerFacts(id: "group:ml-users"), chat()).outcome == .deny)
        #expect(CallerPattern("group:") == nil)
    }
}
