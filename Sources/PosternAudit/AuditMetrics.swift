/// The audit trail's health in Prometheus's text format, for `/metrics`.
public enum AuditMetrics {
    public static func exposition(_ status: AuditStatus, now: Double) -> String {
        let age = max(0, now - status.lastCheckpointAt)
        return """
        # HELP postern_audit_sink_up Whether the audit trail is being written (0: requests are refused).
        # TYPE postern_audit_sink_up gauge
        postern_audit_sink_up \(status.failure == nil ? 1 : 0)
        # HELP postern_audit_records Records in the audit tree.
        # TYPE postern_audit_records gauge
        postern_audit_records \(status.size)
        # HELP postern_audit_signed_records Records covered by the newest signed checkpoint.
        # TYPE postern_audit_signed_records gauge
        postern_audit_signed_records \(status.signedSize)
        # HELP postern_audit_checkpoint_age_seconds Seconds since the newest signed checkpoint.
        # TYPE postern_audit_checkpoint_age_seconds gauge
        postern_audit_checkpoint_age_seconds \(Int(age))
        # HELP postern_audit_retained_records Records held in memory while the sink fails.
        # TYPE postern_audit_retained_records gauge
        postern_audit_retained_records \(status.retained)
        # HELP postern_audit_dropped_records Records lost because the sink failed longer than memory holds.
        # TYPE postern_audit_dropped_records gauge
        postern_audit_dropped_records \(status.dropped)

        """
    }
}
