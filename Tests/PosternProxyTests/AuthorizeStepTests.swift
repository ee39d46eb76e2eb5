import Testing
@testable import PosternProxy
import PosternPolicy
@testable import PosternTLS

@Suite struct AuthorizeStepTests {
    static let web = "spiffe://td/ns/app/sa/web"
    static let classifier = try! Classifier.build(profiles: ["openai"], custom: []).get()
    let step = AuthorizeStep(policy: RequestPolicy(
        classifier: classifier,
        authorizer: Authorizer(functions: [Authorizer.Function(name: "inference", callers: [.exact(web)])], rules: []),
        shadow: Authorizer(functions: [], rules: []),
        guards: [{ var g = ParameterGuard(name: "cool"); g.bounds["temperature"] = .init(max: 1); return g }()]))

    private func run(_ method: String, _ path: Substring, body: String? = nil, type: String? = "application/json",
                     credentials: [String: Swift.Result<UpstreamCredential, UpstreamCredentialUnavailable>] = [:]) -> AuthorizeStep.Result {
        let operation = step.policy.classify(method: method, path: path)!
        return step.run(operation, caller: CallerFacts(id: Self.web), context: RequestContext(time: 0),
                        body: body.map { HeldRequest(bytes: Array($0.utf8), contentType: type, contentEncoding: nil) },
                        upstreamCredentials: credentials)
    }

    @Test func anAllowedRequestCarriesItsFunctionsCredential() {
        let result = run("POST", "/v1/chat/completions", body: #"{"model":"m","temperature":0.5}"#,
                         credentials: ["inference": .success(UpstreamCredential(header: "authorization", value: "Bearer t"))])
        #expect(result.refusal == nil && result.credential?.value == "Bearer t")
        #expect(result.decision?.outcome == .allow && result.shadowDecision?.outcome == .deny)
        #expect(result.operation?.model == "m")
    }

    @Test func refusalsSayWhyAndKeepWhatWasFoundForTheLog() {
        let denied = run("POST", "/v1/load_lora_adapter")
        #expect(denied.refusal?.error.httpStatus == 403 && denied.operation?.function == "deployment")
        let unreadable = run("POST", "/v1/chat/completions", body: "{}",
                             credentials: ["inference": .failure(UpstreamCredentialUnavailable(description: "gone"))])
        #expect(unreadable.refusal?.error.httpStatus == 503 && unreadable.refusal?.detail == "gone" && unreadable.credential == nil)
    }

    @Test func aBodyThatCannotBeReadIsRefusedNotPassed() {
        #expect(run("POST", "/v1/chat/completions", body: #"{"temperature":0.5,"temperature":2}"#).refusal?.error.httpStatus == 400)
        #expect(run("POST", "/v1/chat/completions", body: "{\"temperature\":NaN}").refusal?.error.code == "unreadable_request_body")
        #expect(run("POST", "/v1/chat/completions", body: "a=1", type: "application/x-www-form-urlencoded").refusal?.error.httpStatus == 415)
        let violation = run("POST", "/v1/chat/completions", body: #"{"temperature":1.5}"#)
        #expect(violation.refusal?.error.code == "parameter_not_allowed" && violation.decision?.rule == "cool")
        #expect(violation.refusal?.error.message == "temperature must be at most 1 (guard 'cool')")
    }
}
