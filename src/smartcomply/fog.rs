//! Fats, oils and grease (FOG): grease-trap pump-out manifests
//! (`manifest.filed`).

use serde::{Deserialize, Serialize};
use time::Date;

use crate::wire;

id_newtype! {
    /// A pump-out manifest's ID (`po_...`).
    PumpOutId
}
id_newtype! {
    /// A food service establishment's ID (`fse_...`).
    EstablishmentId
}
id_newtype! {
    /// A grease hauler's ID (`hsp_...`).
    HaulerId
}

/// `manifest.filed`: a FOG hauler filed a grease-trap pump-out manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestFiled {
    /// The pump-out's ID.
    pub pump_out_id: PumpOutId,
    /// The establishment whose trap was pumped.
    pub establishment_id: EstablishmentId,
    /// The hauler that pumped it.
    pub hauler_id: HaulerId,
    /// The establishment's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub establishment_name: Option<String>,
    /// The hauler's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hauler_name: Option<String>,
    /// Gallons pumped (may be fractional).
    pub gallons_pumped: f64,
    /// Where the waste was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposal_facility: Option<String>,
    /// The day of the pump-out.
    #[serde(with = "wire::Date")]
    pub service_date: Date,
}
