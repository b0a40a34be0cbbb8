//! Compliance reports (`report.certified`): DMRs, annual and baseline
//! monitoring reports.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::wire;

id_newtype! {
    /// A compliance report's ID (`rpt_...`).
    ReportId
}

open_enum! {
    /// The kind of compliance report.
    pub enum ReportType {
        /// An annual report.
        AnnualReport = "annual_report",
    }
}

/// `report.certified`: a compliance report was electronically signed and
/// locked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReportCertified {
    /// The report's ID.
    pub report_id: ReportId,
    /// The kind of report.
    pub report_type: ReportType,
    /// The reporting period as written by SmartComply (`2025`, `2026-Q1`).
    pub period: String,
    /// Who certified it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certified_by: Option<String>,
    /// When it was certified.
    #[serde(with = "wire::Instant")]
    pub certified_at: OffsetDateTime,
    /// The facility or utility the report is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility_name: Option<String>,
}
