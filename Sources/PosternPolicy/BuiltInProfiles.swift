/// The classification tables of the model-server APIs Postern knows: data, not code per
/// server. Each line is `methods path function operation [risk] [model field]`; `{model}`
/// and `{version}` capture, `*` is any one segment; the model field is the JSON body member
/// that names the model where the path does not.
public enum BuiltInProfiles {
    public static let names = ["openai", "kserve-v2", "triton", "tgi"]

    public static func rules(_ profile: String) -> [OperationRule]? {
        guard let table = tables[profile] else { return nil }
        return table.map { line in
            OperationRule(methods: line.methods.isEmpty ? [] : Set(line.methods.split(separator: ",").map(String.init)),
                          path: PathPattern(line.path)!, function: line.function, name: line.name,
                          risk: line.high ? .high : .low, profile: profile, modelField: line.modelField,
                          messageModel: line.message)
        }
    }

    private typealias Line = (methods: String, path: String, function: String, name: String, high: Bool,
                              modelField: String?, message: MessageModel?)

    private static func line(_ methods: String, _ path: String, _ function: String, _ name: String,
                             high: Bool = false, model: String? = nil, message: MessageModel? = nil) -> Line {
        (methods, path, function, name, high, model, message)
    }

    /// `name = 1; version = 2`, as most request messages of the service spell their model.
    private static let nameAndVersion = MessageModel(name: 1, version: 2)
    /// `ModelInferRequest`: `model_name = 1; model_version = 2; map<string, InferParameter> parameters = 4`.
    private static let inferRequest = MessageModel(name: 1, version: 2, parameters: 4)
    /// `repository_name = 1; model_name = 2` (and `TraceSettingRequest`'s `model_name = 2`).
    private static let modelSecond = MessageModel(name: 2)

    private static let grpcService = "/inference.GRPCInferenceService"

    /// Triton's system and CUDA shared-memory extensions, alike but for their names:
    /// status is telemetry, registering and unregistering regions deployment.
    private static func sharedMemory(rest: String, grpc: String) -> [Line] {
        let base = "/v2/\(rest)sharedmemory"
        return [
            line("GET", "\(base)/status", "telemetry", "shared_memory_status"),
            line("GET", "\(base)/region/*/status", "telemetry", "shared_memory_status"),
            line("POST", "\(base)/region/*/register", "deployment", "shared_memory_register", high: true),
            line("POST", "\(base)/unregister", "deployment", "shared_memory_unregister", high: true),
            line("POST", "\(base)/region/*/unregister", "deployment", "shared_memory_unregister", high: true),
            line("POST", "\(grpcService)/\(grpc)SharedMemoryStatus", "telemetry", "\(grpc)SharedMemoryStatus"),
            line("POST", "\(grpcService)/\(grpc)SharedMemoryRegister", "deployment", "\(grpc)SharedMemoryRegister", high: true),
            line("POST", "\(grpcService)/\(grpc)SharedMemoryUnregister", "deployment", "\(grpc)SharedMemoryUnregister", high: true),
        ]
    }

    private static let tables: [String: [Line]] = [
        // OpenAI-compatible servers: vLLM, TGI's Messages API, llama.cpp server, SGLang.
        "openai": [
            line("POST", "/v1/chat/completions", "inference", "chat_completions", model: "model"),
            line("POST", "/v1/completions", "inference", "completions", model: "model"),
            line("POST", "/v1/embeddings", "inference", "embeddings", model: "model"),
            line("POST", "/v1/responses", "inference", "responses", model: "model"),
            line("GET,DELETE", "/v1/responses/*", "inference", "responses"),
            line("GET", "/v1/models", "inference", "models"),
            line("GET", "/v1/models/{model}", "inference", "models"),
            line("POST", "/v1/audio/transcriptions", "inference", "audio_transcriptions"),
            line("POST", "/v1/audio/translations", "inference", "audio_translations"),
            line("POST", "/v1/audio/speech", "inference", "audio_speech", model: "model"),
            line("POST", "/v1/moderations", "inference", "moderations", model: "model"),
            line("POST", "/v1/rerank", "inference", "rerank", model: "model"),
            line("POST", "/v1/score", "inference", "score", model: "model"),
            line("POST", "/tokenize", "inference", "tokenize", model: "model"),
            line("POST", "/detokenize", "inference", "detokenize", model: "model"),
            line("POST", "/v1/load_lora_adapter", "deployment", "load_lora_adapter", high: true, model: "lora_name"),
            line("POST", "/v1/unload_lora_adapter", "deployment", "unload_lora_adapter", high: true, model: "lora_name"),
            line("GET", "/health", "telemetry", "health"),
            line("GET", "/ping", "telemetry", "health"),
            line("GET", "/version", "telemetry", "version"),
            line("GET", "/metrics", "telemetry", "metrics"),
        ],
        // KServe v2 / Open Inference Protocol, REST and gRPC.
        "kserve-v2": [
            line("POST", "/v2/models/{model}/infer", "inference", "infer"),
            line("POST", "/v2/models/{model}/versions/{version}/infer", "inference", "infer"),
            line("GET", "/v2/models/{model}", "inference", "model_metadata"),
            line("GET", "/v2/models/{model}/versions/{version}", "inference", "model_metadata"),
            line("GET", "/v2/models/{model}/ready", "telemetry", "model_ready"),
            line("GET", "/v2/models/{model}/versions/{version}/ready", "telemetry", "model_ready"),
            line("GET", "/v2", "telemetry", "server_metadata"),
            line("GET", "/v2/health/live", "telemetry", "server_live"),
            line("GET", "/v2/health/ready", "telemetry", "server_ready"),
            line("POST", "\(grpcService)/ModelInfer", "inference", "ModelInfer", message: inferRequest),
            line("POST", "\(grpcService)/ModelStreamInfer", "inference", "ModelStreamInfer", message: inferRequest),
            line("POST", "\(grpcService)/ModelMetadata", "inference", "ModelMetadata", message: nameAndVersion),
            line("POST", "\(grpcService)/ModelReady", "telemetry", "ModelReady", message: nameAndVersion),
            line("POST", "\(grpcService)/ServerLive", "telemetry", "ServerLive"),
            line("POST", "\(grpcService)/ServerReady", "telemetry", "ServerReady"),
            line("POST", "\(grpcService)/ServerMetadata", "telemetry", "ServerMetadata"),
        ],
        // Triton's extensions to the v2 protocol.
        "triton": [
            line("POST", "/v2/repository/index", "telemetry", "repository_index"),
            line("POST", "/v2/repository/models/{model}/load", "deployment", "model_load", high: true),
            line("POST", "/v2/repository/models/{model}/unload", "deployment", "model_unload", high: true),
            line("GET", "/v2/models/{model}/config", "telemetry", "model_config"),
            line("GET", "/v2/models/{model}/versions/{version}/config", "telemetry", "model_config"),
            line("GET", "/v2/models/stats", "telemetry", "model_statistics"),
            line("GET", "/v2/models/{model}/stats", "telemetry", "model_statistics"),
            line("GET", "/v2/models/{model}/versions/{version}/stats", "telemetry", "model_statistics"),
            line("GET", "/v2/trace/setting", "telemetry", "trace_setting"),
            line("POST", "/v2/trace/setting", "deployment", "trace_setting_update", high: true),
            line("GET", "/v2/models/{model}/trace/setting", "telemetry", "trace_setting"),
            line("POST", "/v2/models/{model}/trace/setting", "deployment", "trace_setting_update", high: true),
            line("GET", "/v2/logging", "telemetry", "log_settings"),
            line("POST", "/v2/logging", "deployment", "log_settings_update", high: true),
            line("POST", "\(grpcService)/RepositoryIndex", "telemetry", "RepositoryIndex"),
            line("POST", "\(grpcService)/RepositoryModelLoad", "deployment", "RepositoryModelLoad", high: true, message: modelSecond),
            line("POST", "\(grpcService)/RepositoryModelUnload", "deployment", "RepositoryModelUnload", high: true, message: modelSecond),
            line("POST", "\(grpcService)/ModelConfig", "telemetry", "ModelConfig", message: nameAndVersion),
            line("POST", "\(grpcService)/ModelStatistics", "telemetry", "ModelStatistics", message: nameAndVersion),
            line("POST", "\(grpcService)/TraceSetting", "deployment", "TraceSetting", high: true, message: modelSecond),
            line("POST", "\(grpcService)/LogSettings", "deployment", "LogSettings", high: true),
        ] + sharedMemory(rest: "system", grpc: "System") + sharedMemory(rest: "cuda", grpc: "Cuda"),
        // Text Generation Inference's native routes.
        "tgi": [
            line("POST", "/generate", "inference", "generate"),
            line("POST", "/generate_stream", "inference", "generate_stream"),
            line("POST", "/", "inference", "generate"),
            line("POST", "/tokenize", "inference", "tokenize"),
            line("GET", "/info", "telemetry", "info"),
            line("GET", "/health", "telemetry", "health"),
            line("GET", "/metrics", "telemetry", "metrics"),
        ],
    ]
}
