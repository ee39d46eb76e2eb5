/// One fuzz target: a parser of untrusted bytes and the properties its output must keep.
/// A target returns normally for any input; a broken property is a `fatalError`, which
/// libFuzzer reports as a crash with the input that caused it.
struct FuzzTarget: Sendable {
    let name: String
    /// What it reads, for `postern-fuzz --list`.
    let summary: String
    let run: @Sendable ([UInt8]) -> Void
}

/// A broken property: the message names it, the input is libFuzzer's artifact.
func violated(_ property: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError("fuzz property violated: \(property)", file: file, line: line)
}

enum FuzzTargets {
    static let all: [FuzzTarget] = CallerTargets.all + UpstreamTargets.all + HTTP2Targets.all + MaskingTargets.all
        + IdentityTargets.all + ParserTargets.all

    static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

/// Splits an input into chunks of a size its length chooses (one byte, a few, a frame's
/// worth, a read's worth, or whole), so streaming parsers see every kind of boundary and
/// seed files stay plain text.
struct Chunking {
    let body: [UInt8]
    let size: Int

    init(_ input: [UInt8]) {
        body = input
        size = [1, 7, 64, 1000, max(1, input.count)][input.count % 5]
    }

    var chunks: [[UInt8]] {
        stride(from: 0, to: body.count, by: size).map { Array(body[$0..<min($0 + size, body.count)]) }
    }
}
