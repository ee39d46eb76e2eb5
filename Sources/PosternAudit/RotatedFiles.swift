#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The rotated siblings of a file, `<path>.<12-digit index>.<unix seconds>`, by the time
/// their name carries.
enum RotatedFiles {
    static func older(than cutoff: Double, beside path: String) -> [String] {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let prefix = (slash.map { String(path[path.index(after: $0)...]) } ?? path) + "."
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var found: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard name.hasPrefix(prefix) else { continue }
            let parts = name.dropFirst(prefix.count).split(separator: ".")
            guard parts.count == 2, parts[0].count == 12, let time = Double(parts[1]), time < cutoff else { continue }
            found.append(directory + "/" + name)
        }
        return found.sorted()
    }
}
