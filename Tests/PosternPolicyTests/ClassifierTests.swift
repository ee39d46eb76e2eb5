import Testing
@testable import PosternPolicy

@Suite struct ClassifierTests {
    let classifier = try! Classifier.build(profiles: BuiltInProfiles.names, custom: [
        OperationRule(methods: ["POST"], path: PathPattern("/retrieve/**")!, function: "data-access",
                      name: "retrieve", profile: "custom"),
    ]).get()

    private func op(_ method: String, _ path: String) -> Operation? {
        classifier.classify(method: method, path: path[...])
    }

    @Test(arguments: [
        ("POST", "/v1/chat/completions", "inference", "chat_completions"),
        ("POST", "/v1/embeddings", "inference", "embeddings"),
        ("GET", "/v1/models", "inference", "models"),
        ("POST", "/v1/load_lora_adapter", "deployment", "load_lora_adapter"),
        ("POST", "/v2/models/llama/infer", "inference", "infer"),
        ("GET", "/v2/models/llama/ready", "telemetry", "model_ready"),
        ("GET", "/v2/health/live", "telemetry", "server_live"),
        ("POST", "/v2/repository/models/llama/load", "deployment", "model_load"),
        ("POST", "/v2/logging", "deployment", "log_settings_update"),
        ("GET", "/v2/logging", "telemetry", "log_settings"),
        ("POST", "/v2/systemsharedmemory/region/r1/register", "deployment", "shared_memory_register"),
        ("POST", "/inference.GRPCInferenceService/ModelInfer", "inference", "ModelInfer"),
        ("POST", "/inference.GRPCInferenceService/RepositoryModelLoad", "deployment", "RepositoryModelLoad"),
        ("POST", "/inference.GRPCInferenceService/ServerLive", "telemetry", "ServerLive"),
        ("POST", "/generate_stream", "inference", "generate_stream"),
        ("GET", "/metrics", "telemetry", "metrics"),
        ("POST", "/retrieve/customers/42", "data-access", "retrieve"),
    ])
    func profilesClassify(_ method: String, _ path: String, _ function: String, _ name: String) {
        let operation = op(method, path)
        #expect(operation?.function == function && operation?.name == name, "\(method) \(path): \(String(describing: operation))")
    }

    @Test func modelsAndVersionsComeFromThePath() {
        let operation = op("POST", "/v2/models/llama-3/versions/2/infer")
        #expect(operation?.model == "llama-3" && operation?.version == "2" && operation?.profile == "kserve-v2")
        #expect(op("POST", "/v2/repository/models/llama-3/load")?.risk == .high)
    }

    @Test func unknownRequestsAreNotOperations() {
        #expect(op("GET", "/v1/chat/completions") == nil)  // the method matters
        #expect(op("POST", "/v2/models/llama/infer/extra") == nil)
        #expect(op("GET", "/admin") == nil)
        #expect(op("POST", "/inference.GRPCInferenceService/Unknown") == nil)
    }

    @Test func literalsIgnoreCaseAsRoutePrefixesDo() {
        #expect(op("POST", "/V1/Chat/Completions")?.name == "chat_completions")
    }

    @Test func onlyTheChosenProfilesClassify() throws {
        let openAIOnly = try Classifier.build(profiles: ["openai"], custom: []).get()
        #expect(openAIOnly.classify(method: "POST", path: "/v2/models/m/infer") == nil)
        #expect(throws: UnknownProfile.self) { try Classifier.build(profiles: ["nope"], custom: []).get() }
    }

    @Test func malformedPatternsAreRefused() {
        for bad in ["v1", "/a/**/b", "/a/{x}", "/a*b"] { #expect(PathPattern(bad) == nil, "\(bad)") }
    }
}
