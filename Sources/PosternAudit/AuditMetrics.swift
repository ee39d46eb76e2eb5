import PosternCore

/// The audit trail's health in Prometheus's text format, for `/metrics`.
public enum AuditMetrics {
    public static func exposition(_ status: AuditStatus, exporters: [SyslogExporter] = [], witness: WitnessClient? = nil,
                                  now: Double) -> String {
        var text = PrometheusText()
        text.family("postern_audit_sink_up", "gauge", "Whether the audit trail is being written (0: requests are refused).")
        text.sample("postern_audit_sink_up", "", status.failure == nil ? 1 : 0)
        text.family("postern_audit_records", "gauge", "Records in the audit tree.")
        text.sample("postern_audit_records", "", status.size)
        text.family("postern_audit_signed_records", "gauge", "Records covered by the newest signed checkpoint.")
        text.sample("postern_audit_signed_records", "", status.signedSize)
        text.family("postern_audit_checkpoint_age_seconds", "gauge", "Seconds since the newest signed checkpoint.")
        text.sample("postern_audit_checkpoint_age_seconds", "", Int(max(0, now - status.lastCheckpointAt)))
        text.family("postern_audit_retained_records", "gauge", "Records held in memory while the sink fails.")
        text.sample("postern_audit_retained_records", "", status.retained)
        text.family("postern_audit_dropped_records_total", "counter",
                    "Records lost because the sink failed for longer than memory could hold them.")
        text.sample("postern_audit_dropped_records_total", "", status.dropped)
        if let witness { Self.witness(witness, now: now, into: &text) }
        guard !exporters.isEmpty else { return text.text }
        let counts = exporters.map { (target: "\($0.host):\($0.port)", counts: $0.counts) }
        text.family("postern_audit_exported_records_total", "counter", "Records shipped to a syslog receiver.")
        for c in counts { text.sample("postern_audit_exported_records_total", "target=\(text.label(c.target))", c.counts.sent) }
        text.family("postern_audit_export_dropped_total", "counter", "Records not shipped: the receiver was away too long.")
        for c in counts { text.sample("postern_audit_export_dropped_total", "target=\(text.label(c.target))", c.counts.dropped) }
        text.family("postern_audit_export_pending", "gauge", "Records waiting to be shipped.")
        for c in counts { text.sample("postern_audit_export_pending", "target=\(text.label(c.target))", c.counts.pending) }
        return text.text
    }

    private static func witness(_ witness: WitnessClient, now: Double, into text: inout PrometheusText) {
        let status = witness.status
        let label = "witness=\(text.label(witness.target.key.name))"
        text.family("postern_audit_witness_up", "gauge", "Whether the witness cosigned the newest checkpoint pushed to it.")
        text.sample("postern_audit_witness_up", label, status.error == nil && status.witnessed != nil ? 1 : 0)
        text.family("postern_audit_witness_cosigned_records", "gauge", "Records covered by the newest cosigned checkpoint.")
        text.sample("postern_audit_witness_cosigned_records", label, status.witnessed ?? 0)
        text.family("postern_audit_witness_cosigned_age_seconds", "gauge", "Seconds since the witness last cosigned.")
        text.sample("postern_audit_witness_cosigned_age_seconds", label, Int(max(0, now - (status.cosignedAt ?? 0))))
        text.family("postern_audit_witness_failures_total", "counter", "Pushes the witness refused or that did not reach it.")
        text.sample("postern_audit_witness_failures_total", label, status.failures)
    }
}
