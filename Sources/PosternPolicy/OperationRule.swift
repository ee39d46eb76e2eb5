/// One line of a classification table: which requests (methods and a path shape) are which
/// operation of which function.
public struct OperationRule: Sendable, Equatable {
    /// Upper-case methods; empty matches any.
    public var methods: Set<String>
    public var path: PathPattern
    public var function: String
    public var name: String
    public var risk: Operation.Risk
    /// `openai`, `kserve-v2`, …, or `custom` for the operator's own.
    public var profile: String
    /// The JSON body member that names the model (`model`, `lora_name`), read when a rule
    /// or guard needs it.
    public var modelField: String?
    /// Where a gRPC request message names the model.
    public var messageModel: MessageModel?

    public init(methods: Set<String>, path: PathPattern, function: String, name: String,
                risk: Operation.Risk = .low, profile: String, modelField: String? = nil,
                messageModel: MessageModel? = nil) {
        self.methods = methods
        self.path = path
        self.function = function
        self.name = name
        self.risk = risk
        self.profile = profile
        self.modelField = modelField
        self.messageModel = messageModel
    }
}
