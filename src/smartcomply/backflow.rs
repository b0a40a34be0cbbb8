//! Backflow prevention: test reports (`test.submitted`, `test.failed`) and
//! assemblies coming due (`assembly.due_soon`).

use serde::{Deserialize, Serialize};
use time::Date;

use super::FacilityId;
use crate::wire;

id_newtype! {
    /// A backflow test report's ID (`bft_...`).
    TestId
}
id_newtype! {
    /// A backflow prevention assembly's ID (`asm_...`).
    AssemblyId
}
id_newtype! {
    /// A certified tester's ID (`tst_...`).
    TesterId
}

open_enum! {
    /// The outcome of a backflow test.
    pub enum TestResult {
        /// The assembly passed.
        Pass = "pass",
        /// The assembly failed.
        Fail = "fail",
    }
}

open_enum! {
    /// The kind of backflow prevention assembly.
    pub enum AssemblyType {
        /// Reduced pressure zone assembly.
        Rpz = "RPZ",
        /// Reduced pressure principle backflow assembly.
        Rpba = "RPBA",
        /// Double check valve assembly.
        Dcva = "DCVA",
        /// Pressure vacuum breaker.
        Pvb = "PVB",
        /// Reduced pressure detector assembly.
        Rpda = "RPDA",
        /// Double check detector assembly.
        Dcda = "DCDA",
        /// Atmospheric vacuum breaker.
        Avb = "AVB",
    }
}

/// A backflow test report: the data of `test.submitted` and `test.failed`,
/// which share one shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TestReport {
    /// The test report's ID.
    pub test_id: TestId,
    /// The assembly that was tested.
    pub assembly_id: AssemblyId,
    /// The certified tester who submitted the report.
    pub tester_id: TesterId,
    /// Pass or fail.
    pub result: TestResult,
    /// The day the test was performed.
    #[serde(with = "wire::Date")]
    pub test_date: Date,
    /// When the next test is due, if scheduled.
    #[serde(
        with = "wire::OptDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_due_date: Option<Date>,
    /// Why the assembly failed (failures only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// The facility's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility_name: Option<String>,
}

/// `test.submitted`: a certified tester submitted a backflow test report.
pub type TestSubmitted = TestReport;

/// `test.failed`: a backflow test report recorded a failure (same shape as
/// [`TestSubmitted`]).
pub type TestFailed = TestReport;

/// `assembly.due_soon`: an assembly's annual test is due in 30 days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AssemblyDueSoon {
    /// The assembly that is due.
    pub assembly_id: AssemblyId,
    /// The facility the assembly protects.
    pub facility_id: FacilityId,
    /// The day the test is due.
    #[serde(with = "wire::Date")]
    pub due_date: Date,
    /// Days from the event to the due date.
    pub days_remaining: i64,
    /// The kind of assembly.
    pub assembly_type: AssemblyType,
    /// The facility's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility_name: Option<String>,
    /// The facility's street address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_fields_are_optional() {
        let t: TestReport = serde_json::from_str(
            r#"{"test_id":"b","assembly_id":"a","tester_id":"t","result":"fail","test_date":"2026-05-05","failure_reason":null}"#,
        )
        .unwrap();
        assert_eq!(t.result, TestResult::Fail);
        assert_eq!(t.failure_reason, None);
        assert_eq!(t.next_due_date, None);
    }

    #[test]
    fn unknown_assembly_type_is_kept() {
        let a: AssemblyType = serde_json::from_str(r#""SVB""#).unwrap();
        assert_eq!(a, AssemblyType::Unknown("SVB".into()));
        assert_eq!(serde_json::to_string(&a).unwrap(), r#""SVB""#);
        assert_eq!(
            serde_json::from_str::<AssemblyType>(r#""RPZ""#).unwrap(),
            AssemblyType::Rpz
        );
    }
}
