/// The streaming formats Postern knows. OpenAI chat and completion chunks (`choices[]`)
/// are read by `EventTexts` itself, since their texts sit in an array of choices.
extension StreamFormat {
    public static let builtIn: [StreamFormat] = [openAIResponses, anthropicMessages, tgiGenerateStream, ollama]

    private static func type(_ values: String...) -> FieldMatch { FieldMatch(["type"], values) }

    /// The OpenAI Responses API (`/v1/responses`, served by vLLM and others): every text
    /// arrives as `delta` in a `response.*.delta` event and ends with its `.done` event,
    /// its content part, its output item or the response.
    public static let openAIResponses = StreamFormat(
        name: "openai-responses",
        recognise: [type("response.*")],
        texts: [
            StreamedText(when: [type("response.output_text.delta", "response.refusal.delta", "response.reasoning_text.delta")],
                         path: ["delta"], key: [["item_id"], ["output_index"], ["content_index"]]),
            StreamedText(when: [type("response.reasoning_summary_text.delta")],
                         path: ["delta"], key: [["item_id"], ["output_index"], ["summary_index"]]),
            StreamedText(when: [type("response.function_call_arguments.delta", "response.custom_tool_call_input.delta",
                                     "response.mcp_call_arguments.delta", "response.code_interpreter_call_code.delta")],
                         path: ["delta"], key: [["item_id"], ["output_index"]]),
            StreamedText(when: [type("response.audio.transcript.delta")], path: ["delta"]),
        ],
        ends: [
            StreamEnd(when: [type("response.output_text.done", "response.refusal.done", "response.reasoning_text.done",
                                  "response.content_part.done")], key: [["item_id"], ["content_index"]]),
            StreamEnd(when: [type("response.reasoning_summary_text.done", "response.reasoning_summary_part.done")],
                      key: [["item_id"], ["summary_index"]]),
            StreamEnd(when: [type("response.function_call_arguments.done", "response.custom_tool_call_input.done",
                                  "response.mcp_call_arguments.done", "response.code_interpreter_call_code.done")],
                      key: [["item_id"]]),
            StreamEnd(when: [type("response.output_item.done")], key: [["output_index"]]),
            StreamEnd(when: [type("response.audio.transcript.done", "response.completed", "response.failed",
                                  "response.incomplete")]),
        ])

    /// Anthropic's Messages stream: `content_block_delta` events carry text, tool input
    /// JSON or thinking by the block's `index`; `content_block_stop` ends a block.
    public static let anthropicMessages = StreamFormat(
        name: "anthropic-messages",
        recognise: [type("message_start", "message_delta", "message_stop", "content_block_start", "content_block_delta",
                         "content_block_stop", "ping", "error")],
        texts: [
            StreamedText(when: [type("content_block_delta"), FieldMatch(["delta", "type"], ["text_delta"])],
                         path: ["delta", "text"], key: [["index"]]),
            StreamedText(when: [type("content_block_delta"), FieldMatch(["delta", "type"], ["input_json_delta"])],
                         path: ["delta", "partial_json"], key: [["index"]]),
            StreamedText(when: [type("content_block_delta"), FieldMatch(["delta", "type"], ["thinking_delta"])],
                         path: ["delta", "thinking"], key: [["index"]]),
        ],
        ends: [
            StreamEnd(when: [type("content_block_stop")], key: [["index"]]),
            StreamEnd(when: [type("message_stop", "error")]),
        ])

    /// Hugging Face TGI's `/generate_stream`: a token per event; the last one also carries
    /// `generated_text`, the whole text.
    public static let tgiGenerateStream = StreamFormat(
        name: "tgi-generate-stream",
        recognise: [FieldMatch(["token"])],
        texts: [StreamedText(path: ["token", "text"])],
        ends: [StreamEnd(when: [FieldMatch(["generated_text"])])])

    /// Ollama's newline-delimited JSON (`/api/chat`, `/api/generate`): a piece of
    /// `message.content` (or `response`, or thinking) per line until `"done": true`.
    public static let ollama = StreamFormat(
        name: "ollama",
        recognise: [FieldMatch(["model"]), FieldMatch(["done"])],
        texts: [
            StreamedText(path: ["message", "content"]),
            StreamedText(path: ["message", "thinking"]),
            StreamedText(path: ["response"]),
            StreamedText(path: ["thinking"]),
        ],
        ends: [StreamEnd(when: [FieldMatch(["done"], ["true"])])])
}
