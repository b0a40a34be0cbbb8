//! Industrial pretreatment: permit-limit exceedances
//! (`iu.exceedance_detected`) and expiring permits (`permit.expiring`).

use serde::{Deserialize, Serialize};
use time::Date;

use crate::wire;

id_newtype! {
    /// A lab sample's ID (`smp_...`).
    SampleId
}
id_newtype! {
    /// An industrial user's ID (`iu_...`).
    IndustrialUserId
}
id_newtype! {
    /// A discharge permit's ID (`prm_...`).
    PermitId
}

open_enum! {
    /// The kind of discharge permit.
    pub enum PermitType {
        /// A permit written for one industrial user.
        Individual = "individual",
        /// A general permit covering a class of users.
        General = "general",
    }
}

/// `iu.exceedance_detected`: a lab result for an industrial user exceeded
/// one or more permitted discharge limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IuExceedanceDetected {
    /// The sample whose results exceeded.
    pub sample_id: SampleId,
    /// The industrial user that discharged.
    pub industrial_user_id: IndustrialUserId,
    /// The permit whose limits were exceeded.
    pub permit_id: PermitId,
    /// The facility's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility_name: Option<String>,
    /// Each parameter that exceeded, with its value and limit.
    pub exceedances: Vec<Exceedance>,
    /// The day the sample was taken.
    #[serde(with = "wire::Date")]
    pub sample_date: Date,
    /// The monitoring point sampled (`MP-001`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_point: Option<String>,
}

/// One parameter over its permit limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Exceedance {
    /// The pollutant or parameter (`Zinc`).
    pub parameter: String,
    /// The measured value, in `unit`.
    pub result_value: f64,
    /// The permitted limit, in `unit`.
    pub permit_limit: f64,
    /// The unit of both values (`mg/L`).
    pub unit: String,
}

impl Exceedance {
    /// How many times the limit the result is (`3.8 / 2.6`), or `None` when
    /// the limit is zero.
    pub fn ratio(&self) -> Option<f64> {
        (self.permit_limit != 0.0).then(|| self.result_value / self.permit_limit)
    }
}

/// `permit.expiring`: a discharge permit expires in 60 days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PermitExpiring {
    /// The expiring permit.
    pub permit_id: PermitId,
    /// The industrial user holding it.
    pub industrial_user_id: IndustrialUserId,
    /// The facility's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility_name: Option<String>,
    /// The day the permit expires.
    #[serde(with = "wire::Date")]
    pub expiration_date: Date,
    /// Days from the event to expiry.
    pub days_remaining: i64,
    /// The kind of permit.
    pub permit_type: PermitType,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_guards_zero_limits() {
        let e = Exceedance {
            parameter: "Zinc".into(),
            result_value: 3.9,
            permit_limit: 2.6,
            unit: "mg/L".into(),
        };
        assert!((e.ratio().unwrap() - 1.5).abs() < 1e-12);
        assert_eq!(
            Exceedance {
                permit_limit: 0.0,
                ..e
            }
            .ratio(),
            None
        );
    }

    #[test]
    fn measured_values_accept_integers_and_reject_strings() {
        let e: Exceedance = serde_json::from_str(
            r#"{"parameter":"pH","result_value":11,"permit_limit":10,"unit":"SU"}"#,
        )
        .unwrap();
        assert_eq!(e.result_value, 11.0);
        let err = serde_json::from_str::<Exceedance>(
            r#"{"parameter":"pH","result_value":"11","permit_limit":10,"unit":"SU"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("expected f64"), "{err}");
    }
}
