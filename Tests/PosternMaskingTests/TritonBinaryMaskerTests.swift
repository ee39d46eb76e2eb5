import Testing
@testable import PosternMasking

/// A binary tensor body: a JSON header and each tensor's raw bytes after it.
private func body(_ header: String, _ tensors: [[UInt8]]) -> (bytes: [UInt8], headerLength: Int) {
    (Array(header.utf8) + tensors.flatMap { $0 }, header.utf8.count)
}

private func bytesTensor(_ elements: [String]) -> [UInt8] {
    elements.flatMap { element -> [UInt8] in
        let n = element.utf8.count
        return [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)] + Array(element.utf8)
    }
}

private func mask(_ input: (bytes: [UInt8], headerLength: Int), direction: TritonBinaryMasker.Direction = .response,
                  chunk: Int = 7) throws -> (body: [UInt8], headerLength: Int, masker: TritonBinaryMasker) {
    let masker = TritonBinaryMasker(policy: MaskingPolicy(), headerLength: input.headerLength, direction: direction)
    var out: [UInt8] = []
    for start in stride(from: 0, to: input.bytes.count, by: chunk) {
        out += try masker.feed(Array(input.bytes[start..<min(start + chunk, input.bytes.count)]))
    }
    out += try masker.finish()
    return (out, try #require(masker.maskedHeaderLength), masker)
}

@Suite struct TritonBinaryMaskerTests {
    @Test func bytesElementsAreMaskedAndEveryLengthRewritten() throws {
        let text = bytesTensor(["card 4111 1111 1111 1111", "", "mail ann@example.com ok"])
        let numbers: [UInt8] = [0, 0, 0xC0, 0x3F, 1, 2, 3, 4]
        let header = """
        {"model_name":"m","outputs":[{"name":"text","datatype":"BYTES","shape":[3],"parameters":{"binary_data_size":\(text.count)}},\
        {"name":"x","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}},\
        {"name":"j","datatype":"BYTES","shape":[1],"data":["ssn 123-45-6789"]}]}
        """
        let (out, headerLength, masker) = try mask(body(header, [text, numbers]))
        let newHeader = try #require(JSONNode.parse(Array(out[..<headerLength])))
        let expected = bytesTensor(["card [CREDIT_CARD]", "", "mail [EMAIL] ok"])
        guard case .array(let outputs)? = newHeader["outputs"] else { Issue.record("no outputs"); return }
        #expect(outputs[0][path: ["parameters", "binary_data_size"]] == .number(Array(String(expected.count).utf8)))
        #expect(outputs[2]["data"] == .array([.string(Array("ssn [US_SSN]".utf8))]))
        #expect(Array(out[headerLength...]) == expected + numbers)
        #expect(masker.findings == [.creditCard: 1, .email: 1, .usSSN: 1])
    }

    @Test func aRequestsInputsAreReadAndItsOutputsLeftAlone() throws {
        let text = bytesTensor(["call 415-555-2671"])
        let header = """
        {"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":\(text.count)}}],\
        "outputs":[{"name":"text","parameters":{"binary_data":true}}]}
        """
        let (out, headerLength, _) = try mask(body(header, [text]), direction: .request)
        #expect(Array(out[headerLength...]) == bytesTensor(["call [PHONE]"]))
    }

    @Test(arguments: [
        ("{\"outputs\":[{\"datatype\":\"BYTES\",\"shape\":[2],\"parameters\":{\"binary_data_size\":6}}]}", "elements"),
        ("{\"outputs\":[{\"datatype\":\"FP32\",\"shape\":[2],\"parameters\":{\"binary_data_size\":6}}]}", "shape says"),
        ("{\"outputs\":[{\"datatype\":\"QUBIT\",\"parameters\":{\"binary_data_size\":6}}]}", "unknown datatype"),
        ("{\"outputs\":[{\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_size\":99}}]}", "runs past the end"),
        ("{\"outputs\":[{\"datatype\":\"UINT8\",\"parameters\":{\"binary_data_size\":2}}]}", "bytes follow"),
        ("{\"outputs\":[{\"datatype\":\"UINT8\",\"parameters\":{\"binary_data_size\":-1}}]}", "non-negative integer"),
        ("{\"outputs\":[{\"parameters\":{\"binary_data_size\":6}}]}", "without a datatype"),
        ("[1,2]", "not a JSON object"),
        // Found by the triton-mask fuzz target: read as FP32 here, as BYTES by a client whose
        // parser takes the last of two names.
        ("{\"outputs\":[{\"datatype\":\"UINT8\",\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_size\":6}}]}",
         "names a member twice"),
    ])
    func anythingInconsistentFailsClosed(_ header: String, _ reason: String) {
        // Six bytes of tensor: one BYTES element "ab" (4 + 2).
        let tensor = bytesTensor(["ab"])
        do {
            _ = try mask(body(header, [tensor]))
            Issue.record("accepted \(header)")
        } catch let error as MaskingError {
            #expect(error.message.contains(reason), "\(error.message)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func aHeaderLengthBeyondTheBodyOrNotALengthIsRefused() {
        #expect(throws: MaskingError.self) { try mask(([UInt8]("{}".utf8), 10)) }
        #expect(TritonBinaryMasker.headerLength("147") == 147)
        for bad in ["-1", "+5", "1e3", "", " 12", "99999999999999"] { #expect(TritonBinaryMasker.headerLength(bad) == nil, "\(bad)") }
    }

    @Test func aBodyOverTheLimitIsRefusedAsItArrives() {
        let masker = TritonBinaryMasker(policy: MaskingPolicy(), headerLength: 2, direction: .response, maxBytes: 16)
        #expect(throws: MaskingError.self) { _ = try masker.feed([UInt8](repeating: 0x20, count: 17)) }
    }
}
