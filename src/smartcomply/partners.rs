//! Partner integrations: applications (`partner.application_submitted`)
//! and approvals (`partner.approved`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::wire;

id_newtype! {
    /// A partner's ID (`prt_...`).
    PartnerId
}

open_enum! {
    /// What a partner integrates.
    pub enum IntegrationType {
        /// A laboratory information management system.
        Lims = "lims",
        /// A geographic information system.
        Gis = "gis",
    }
}

/// `partner.approved`: a SmartComply admin approved a partner application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PartnerApproved {
    /// The partner's ID.
    pub partner_id: PartnerId,
    /// The partner's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_name: Option<String>,
    /// When the application was approved.
    #[serde(with = "wire::Instant")]
    pub approved_at: OffsetDateTime,
    /// What the partner integrates.
    pub integration_type: IntegrationType,
}

/// `partner.application_submitted`: a prospective partner applied through
/// the developer portal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PartnerApplicationSubmitted {
    /// The partner's ID.
    pub partner_id: PartnerId,
    /// The partner's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_name: Option<String>,
    /// Who to contact about the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    /// What the partner integrates.
    pub integration_type: IntegrationType,
    /// When the application was submitted.
    #[serde(with = "wire::Instant")]
    pub submitted_at: OffsetDateTime,
}
