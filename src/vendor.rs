//! The vendors whose webhooks the crate receives.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A vendor whose webhooks the crate receives: who sent an
/// [`Unreadable`](crate::Unreadable) delivery, and the namespace of its
/// deliveries' idempotency keys (`smartcomply:<id>`, `smarterwx:<uuid>`).
///
/// It serializes as its lowercase name, [`Vendor::as_str`]:
///
/// ```
/// use utility_webhooks::{Vendor, serde_json};
///
/// assert_eq!(Vendor::SmarterWx.as_str(), "smarterwx");
/// assert_eq!(Vendor::SmartComply.to_string(), "smartcomply");
/// assert_eq!(serde_json::to_string(&Vendor::SmartComply)?, r#""smartcomply""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Vendor {
    /// SmartComply ([`smartcomply`](crate::smartcomply)):
    /// `"smartcomply"`.
    #[serde(rename = "smartcomply")]
    SmartComply,
    /// SmarterWX Sentinel ([`smarterwx`](crate::smarterwx)):
    /// `"smarterwx"`.
    #[serde(rename = "smarterwx")]
    SmarterWx,
}

impl Vendor {
    /// Every vendor this version of the crate knows.
    pub const ALL: &'static [Vendor] = &[Vendor::SmartComply, Vendor::SmarterWx];

    /// The vendor's lowercase name (`"smartcomply"`, `"smarterwx"`): how it
    /// serializes, the namespace of its idempotency keys, and its name in
    /// spans.
    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::SmartComply => "smartcomply",
            Vendor::SmarterWx => "smarterwx",
        }
    }

    /// The idempotency key of this vendor's delivery with the id `id`
    /// (see [`idempotency`](crate::idempotency)'s "Keys").
    pub(crate) fn key(self, id: &str) -> String {
        crate::idempotency::key(self.as_str(), id)
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_vendor_serializes_reads_and_shows_as_its_name() {
        for &vendor in Vendor::ALL {
            let json = serde_json::to_string(&vendor).unwrap();
            assert_eq!(json, format!("\"{}\"", vendor.as_str()));
            assert_eq!(serde_json::from_str::<Vendor>(&json).unwrap(), vendor);
            assert_eq!(vendor.to_string(), vendor.as_str());
            assert_eq!(vendor.key("x"), format!("{}:x", vendor.as_str()));
        }
        assert_eq!(Vendor::ALL.len(), 2);
        assert!(serde_json::from_str::<Vendor>(r#""SmartComply""#).is_err());
    }
}
