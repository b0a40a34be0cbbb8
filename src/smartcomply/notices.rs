//! Compliance notices (`notice.created`): warnings, notices of violation,
//! consent orders.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::wire;

id_newtype! {
    /// A regulated facility's ID (`fac_...`).
    FacilityId
}
id_newtype! {
    /// A compliance notice's ID (`ntc_...`).
    NoticeId
}

open_enum! {
    /// The kind of compliance notice.
    pub enum NoticeType {
        /// A notice of violation.
        Nov = "NOV",
    }
}

open_enum! {
    /// How serious a violation is.
    pub enum Severity {
        /// A significant violation.
        Significant = "significant",
    }
}

/// `notice.created`: a compliance notice (warning, NOV, consent order, ...)
/// was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NoticeCreated {
    /// The notice's ID.
    pub notice_id: NoticeId,
    /// The facility the notice is issued to.
    pub facility_id: FacilityId,
    /// The facility's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility_name: Option<String>,
    /// The kind of notice.
    pub notice_type: NoticeType,
    /// How serious the violation is.
    pub severity: Severity,
    /// A one-line description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The day a response is due, if any.
    #[serde(
        with = "wire::OptDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub due_date: Option<Date>,
}
