import PosternJSON

/// Finds an exchange's record and the recording whose SHA-256 that record holds, for
/// `postern audit show|replay` (in files an investigator holds) and for the admin API (in
/// the sidecar's own files, newest first).
public enum RecordingLookup {
    public enum Miss: Error, Sendable, Equatable {
        case noRecord
        /// The record names a recording that no file holds unaltered.
        case noRecording(digest: String)
        /// The exchange was recorded without a recording.
        case notRecorded
    }

    /// The `request` record of `requestID` in `log` (its last, should a file hold two).
    public static func record(of requestID: String, in log: [UInt8]) -> JSONValue? {
        let needle = Array("\"request_id\":\(JSONValue.string(requestID).text)".utf8)
        var found: JSONValue?
        for line in log.split(separator: 0x0A) where line.starts(with: AuditLine.recordPrefix) && line.contains(needle) {
            if let value = JSONValue.parse(Array(line)), value["request_id"]?.string == requestID,
               value["kind"]?.string == "request" { found = value }
        }
        return found
    }

    /// The line of `file` whose SHA-256 is `digest`.
    public static func recording(digest: String, in file: [UInt8]) -> [UInt8]? {
        file.split(separator: 0x0A).last { Recording.digest(Array($0)) == digest }.map(Array.init)
    }

    /// The sidecar's own lookup: the log at `logPath` and its rotated files, then the
    /// recordings beside it, newest first. Reads whole files: for an operator's call, off
    /// the data path.
    public static func find(requestID: String, logPath: String,
                            recordingsPath: String?) throws(AuditError) -> Result<(record: JSONValue, recording: JSONValue), Miss> {
        var record: JSONValue?
        for path in newestFirst(logPath) {
            guard let bytes = try AuditFile.readAll(path) else { continue }
            record = self.record(of: requestID, in: bytes)
            if record != nil { break }
        }
        guard let record else { return .failure(.noRecord) }
        guard let digest = record["recording_sha256"]?.string else { return .failure(.notRecorded) }
        guard let recordingsPath else { return .failure(.noRecording(digest: digest)) }
        for path in newestFirst(recordingsPath) {
            guard let bytes = try AuditFile.readAll(path) else { continue }
            if let line = recording(digest: digest, in: bytes), let value = JSONValue.parse(line) {
                return .success((record, value))
            }
        }
        return .failure(.noRecording(digest: digest))
    }

    private static func newestFirst(_ path: String) -> [String] {
        [path] + RotatedFiles.older(than: .infinity, beside: path).reversed()
    }
}

private extension ArraySlice<UInt8> {
    func contains(_ needle: [UInt8]) -> Bool {
        guard let first = needle.first, count >= needle.count else { return false }
        var i = startIndex
        while i <= endIndex - needle.count {
            if self[i] == first, self[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}
