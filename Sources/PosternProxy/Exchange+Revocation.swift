#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import PosternApprovals
import PosternCore
import PosternPolicy

/// Revocations: the caller they stop, refused at the start and cut when already open.
extension Exchange {
    /// The revocation that stops this exchange's caller, if any.
    func revocation(in list: RevocationList) -> Revocation? {
        guard let principal, !list.isEmpty else { return nil }
        let byCertificate = principal.source == .mtls
        return list.stopping(identity: principal.id, tokenID: byCertificate ? nil : principal.credentialID,
                             certificateSerial: byCertificate ? principal.credentialID : nil, at: Int64(time(nil)))
    }

    static func words(_ revocation: Revocation) -> String {
        "this caller's access was revoked" + (revocation.reason.isEmpty ? "" : ": \(revocation.reason)")
    }

    /// A revocation arrived: an exchange its caller may no longer make ends now (a stream
    /// is cut, a gRPC call gets PERMISSION_DENIED in its trailers).
    func endIfRevoked(_ list: RevocationList) {
        guard response != .done, let revocation = revocation(in: list) else { return }
        fail(.revoked(Self.words(revocation)), outcome: "revoked")
    }
}
