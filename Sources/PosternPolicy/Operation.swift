/// What a request does, as classification found it: the function it belongs to, the
/// operation's name, the model and version it concerns, and how risky it is.
public struct Operation: Sendable, Equatable {
    public enum Risk: String, Sendable, CaseIterable { case low, high }

    /// `inference`, `deployment`, `telemetry`, `data-access` or an operator-named function.
    public var function: String
    /// A stable name, e.g. `chat_completions`, `model_load`, `ModelInfer`.
    public var name: String
    public var model: String?
    public var version: String?
    public var risk: Risk
    /// The profile whose table classified the request (`openai`, `kserve-v2`, …).
    public var profile: String
    /// The JSON body member that names the model, where the path does not (`model`).
    public var modelField: String?
    /// Where a gRPC request message names the model.
    public var messageModel: MessageModel?

    public init(function: String, name: String, model: String? = nil, version: String? = nil,
                risk: Risk = .low, profile: String, modelField: String? = nil,
                messageModel: MessageModel? = nil) {
        self.function = function
        self.name = name
        self.model = model
        self.version = version
        self.risk = risk
        self.profile = profile
        self.modelField = modelField
        self.messageModel = messageModel
    }
}
