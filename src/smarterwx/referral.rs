//! The referral model: the `message` of `referral:create` and
//! `referral:update`, with its organisation, enquiry, address and user.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::wire;

open_enum! {
    /// Where a referral stands in the utility's workflow.
    pub enum ReferralStatus {
        /// Waiting for the utility to respond.
        Waiting = "WAITING",
    }
}

open_enum! {
    /// The kind of authority a referral is addressed to.
    pub enum AuthorityType {
        /// A utility (water, gas, electricity, telecommunications, ...).
        Utility = "Utility",
    }
}

open_enum! {
    /// The kind of land the work is on.
    pub enum LocationType {
        /// The road reserve (public land along a road).
        RoadReserve = "Road Reserve",
        /// Private property.
        Private = "Private",
    }
}

open_enum! {
    /// Which part of the road reserve the work is in.
    pub enum LocationInRoad {
        /// The carriageway.
        Road = "Road",
        /// The nature strip (verge).
        NatureStrip = "Nature Strip",
        /// The footpath.
        Footpath = "Footpath",
    }
}

open_enum! {
    /// How an enquiry was lodged.
    pub enum EnquirySource {
        /// Through the SmarterWX web application.
        Web = "WEB",
        /// Through the SmarterWX API.
        Api = "API",
    }
}

open_enum! {
    /// One planned activity, as found (comma-separated) in
    /// [`Enquiry::activity_types`].
    pub enum ActivityCode {
        /// Conceptual design.
        ConceptualDesign = "CONCEPTUAL_DESIGN",
        /// Engineering design.
        EngineeringDesign = "ENGINEERING_DESIGN",
        /// Manual excavation.
        ManualExcavation = "MANUAL_EXCAVATION",
        /// Horizontal boring.
        HorizBoring = "HORIZ_BORING",
        /// Vacuum excavation.
        VacuumExcavation = "VACUUM_EXCAVATION",
        /// Conveyancing.
        Conveyancing = "CONVEYANCING",
    }
}

/// A referral of an enquiry to a utility: the `message` of
/// `referral:create` and `referral:update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Referral {
    /// The referral's ID.
    pub id: u64,
    /// When the referral was created.
    #[serde(with = "wire::Instant")]
    pub created_at: OffsetDateTime,
    /// Where the referral stands (`WAITING`, ...).
    pub status: ReferralStatus,
    /// The referral's sequence number.
    pub sequence_number: u64,
    /// The message format version (for example `"2.1.0.0"`), sent since 2021.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_version: Option<String>,
    /// The organisation the referral is addressed to.
    #[serde(rename = "Organisation")]
    pub organisation: Organisation,
    /// The enquiry being referred.
    #[serde(rename = "Enquiry")]
    pub enquiry: Enquiry,
}

/// The organisation (utility) a referral is addressed to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Organisation {
    /// The organisation's ID.
    pub id: u64,
    /// The organisation's name.
    pub name: String,
    /// The utility's ID.
    pub utility_id: u64,
}

/// A dig enquiry: who plans to dig, where, when and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Enquiry {
    /// The enquiry's ID.
    pub id: u64,
    /// When the enquiry was lodged.
    #[serde(with = "wire::Instant")]
    pub created_at: OffsetDateTime,
    /// The job number.
    pub job_number: u64,
    /// The enquirer's own reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_reference: Option<String>,
    /// Free-text notes from the enquirer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The first day of digging.
    #[serde(with = "wire::Date")]
    pub dig_start_at: Date,
    /// The last day of digging.
    #[serde(with = "wire::Date")]
    pub dig_end_at: Date,
    /// Whether the enquiry is for planning only (no digging yet).
    pub is_planning_job: bool,
    /// Activity codes; one entry may hold several, comma-separated (see
    /// [`Enquiry::activities`]).
    pub activity_types: Vec<String>,
    /// The activities in words, in the same layout as `activity_types`.
    pub activity_types_localized: Vec<String>,
    /// The kind of authority the enquiry is referred to.
    pub authority_type: AuthorityType,
    /// The authority's name.
    pub authority_name: String,
    /// The kinds of land the work is on.
    pub location_types: Vec<LocationType>,
    /// The parts of the road reserve the work is in.
    pub locations_in_road: Vec<LocationInRoad>,
    /// Whether this is a sandbox test rather than a real enquiry.
    pub is_sandbox_test: bool,
    /// The dig site as GeoJSON (`[lon, lat]`, WGS84), kept as sent; `null`
    /// when missing.
    #[serde(default)]
    pub geometry: serde_json::Value,
    /// The dig site's address.
    #[serde(rename = "Address")]
    pub address: Address,
    /// The enquirer.
    #[serde(rename = "User")]
    pub user: User,
    /// The enquirer's project reference (since 2023).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_reference: Option<String>,
    /// How the enquiry was lodged (since 2023).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<EnquirySource>,
}

impl Enquiry {
    /// Every activity code in [`Enquiry::activity_types`], typed: each entry
    /// split on `,` and trimmed, empty pieces skipped, so
    /// `["MANUAL_EXCAVATION, HORIZ_BORING"]` yields
    /// [`ActivityCode::ManualExcavation`] and [`ActivityCode::HorizBoring`].
    /// Unknown codes are kept in [`ActivityCode::Unknown`]; `as_str()` gives
    /// each code's text.
    pub fn activities(&self) -> impl Iterator<Item = ActivityCode> {
        self.activity_types
            .iter()
            .flat_map(|entry| entry.split(','))
            .map(str::trim)
            .filter(|code| !code.is_empty())
            .map(ActivityCode::from)
    }
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Address {
    /// The address's ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The first street line.
    pub line1: String,
    /// The second street line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    /// The suburb or town.
    pub locality: String,
    /// The state (`VIC`, ...).
    pub state: String,
    /// The postcode as text, so `"0800"` keeps its zero; a JSON number is
    /// read as its digits.
    #[serde(with = "wire::Text")]
    pub postcode: String,
    /// The country (`AUS`, ...).
    pub country: String,
}

/// The person who lodged an enquiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct User {
    /// The user's ID.
    pub id: u64,
    /// The address to write to (often a SmarterWX relay address).
    pub email: String,
    /// The address the user registered with (since 2021).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_email: Option<String>,
    /// The user's first name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// The user's last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// The phone number as text, so a leading zero is kept; a JSON number
    /// is read as its digits.
    #[serde(
        with = "wire::OptText",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub phone_number: Option<String>,
    /// The user's company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// The user's postal address.
    #[serde(rename = "Address", default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// The user's verification status, as sent (since 2023).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_status: Option<String>,
    /// The user's subscription status, as sent (since 2023).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_status: Option<String>,
    /// The data format the user prefers, as sent (since 2023).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_data_format: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn address(postcode: serde_json::Value) -> serde_json::Value {
        json!({"line1": "1 Mitchell St", "line2": null, "locality": "Darwin",
               "state": "NT", "postcode": postcode, "country": "AUS"})
    }

    #[test]
    fn postcode_as_number_or_string() {
        let a: Address = serde_json::from_value(address(json!("0800"))).unwrap();
        assert_eq!(a.postcode, "0800");
        assert_eq!(a.id, None);
        assert_eq!(a.line2, None);
        let a: Address = serde_json::from_value(address(json!(3003))).unwrap();
        assert_eq!(a.postcode, "3003");
        assert_eq!(serde_json::to_value(&a).unwrap()["postcode"], "3003");
        let err = serde_json::from_value::<Address>(address(json!(null))).unwrap_err();
        assert!(err.to_string().contains("a string or a number"), "{err}");
    }

    #[test]
    fn user_optionals_and_2023_fields() {
        let u: User = serde_json::from_value(json!({
            "id": 1, "email": "a@b", "registeredEmail": null, "firstName": null,
            "phoneNumber": "0412345678", "verificationStatus": "VERIFIED",
            "subscriptionStatus": "ACTIVE", "preferredDataFormat": "PDF", "extra": [1]
        }))
        .unwrap();
        assert_eq!(u.phone_number.as_deref(), Some("0412345678"));
        assert_eq!(u.registered_email, None);
        assert_eq!(u.first_name, None);
        assert_eq!(u.address, None);
        assert_eq!(u.verification_status.as_deref(), Some("VERIFIED"));
        assert_eq!(u.subscription_status.as_deref(), Some("ACTIVE"));
        assert_eq!(u.preferred_data_format.as_deref(), Some("PDF"));
        let back = serde_json::to_value(&u).unwrap();
        assert_eq!(back["phoneNumber"], "0412345678");
        assert!(back.get("registeredEmail").is_none());
        assert_eq!(serde_json::from_value::<User>(back).unwrap(), u);
    }

    #[test]
    fn open_sets_keep_unknown_values() {
        assert_eq!(
            LocationType::from("Road Reserve"),
            LocationType::RoadReserve
        );
        assert_eq!(
            serde_json::from_str::<LocationInRoad>(r#""Nature Strip""#).unwrap(),
            LocationInRoad::NatureStrip
        );
        let s: ReferralStatus = serde_json::from_str(r#""ACKNOWLEDGED""#).unwrap();
        assert_eq!(s, ReferralStatus::Unknown("ACKNOWLEDGED".into()));
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""ACKNOWLEDGED""#);
        assert_eq!(EnquirySource::from("API"), EnquirySource::Api);
        assert_eq!(AuthorityType::Utility.as_str(), "Utility");
        assert_eq!(ActivityCode::ALL.len(), 6);
    }
}
