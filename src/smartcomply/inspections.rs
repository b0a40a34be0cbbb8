//! Field inspections (`inspection.completed`): FOG, stormwater and
//! construction inspections.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::FacilityId;
use crate::wire;

id_newtype! {
    /// An inspection's ID (`insp_...`).
    InspectionId
}

open_enum! {
    /// The kind of inspection.
    pub enum InspectionType {
        /// A routine FOG inspection of a food service establishment.
        FogRoutine = "fog_routine",
    }
}

open_enum! {
    /// The outcome of an inspection.
    pub enum InspectionResult {
        /// No deficiencies found.
        Satisfactory = "satisfactory",
    }
}

/// `inspection.completed`: an inspector finalized an inspection record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InspectionCompleted {
    /// The inspection's ID.
    pub inspection_id: InspectionId,
    /// The facility inspected.
    pub facility_id: FacilityId,
    /// The facility's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility_name: Option<String>,
    /// The kind of inspection.
    pub inspection_type: InspectionType,
    /// The outcome.
    pub result: InspectionResult,
    /// The inspector's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspector_name: Option<String>,
    /// When the inspection was finalized.
    #[serde(with = "wire::Instant")]
    pub completed_at: OffsetDateTime,
}
