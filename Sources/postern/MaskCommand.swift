import PosternConfig
import PosternMasking

#if canImport(Glibc)
import Glibc
#endif

/// `postern mask`: a policy applied to standard input, streaming, as the data path would.
enum MaskCommand {
    static func run(config: PosternConfig, policyName: String?, format: String) -> Int32 {
        let name = policyName ?? "default"
        guard let settings = config.masking.first(where: { $0.name == name }) else {
            Stderr.line("postern mask: no masking policy called '\(name)' in the configuration")
            return 1
        }
        let policy: MaskingPolicy
        switch MaskingPolicy.build(settings) {
        case .success(let built): policy = built
        case .failure(let error):
            Stderr.line("postern mask: \(error)")
            return 1
        }
        let stream: ResponseMasker = switch format {
        case "sse": .sse(SSEMasker(policy: policy))
        case "text": .text(TextStreamMasker(policy: policy))
        default: .json(JSONMasker(policy: policy))
        }
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        do throws(MaskingError) {
            while true {
                let n = read(0, &chunk, chunk.count)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                writeAll(try stream.feed(Array(chunk[0..<n])))
            }
            writeAll(try stream.finish())
        } catch {
            Stderr.line("postern mask: \(error)")
            return 1
        }
        return 0
    }

    private static func writeAll(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}
