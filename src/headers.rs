//! Finding a vendor's signature header in an `http::HeaderMap` (the `http`
//! feature), shared by every vendor.
//!
//! This module knows no vendor: a vendor module names its header and hands
//! the one value found to its own `verify`.

use http::{HeaderMap, HeaderValue};

use crate::error::Error;

/// The one value of header `name` (case-insensitive, as every `HeaderMap`
/// lookup is).
///
/// - No such header: [`Error::MissingSignature`].
/// - More than one: [`Error::MalformedSignature`]. A vendor sends its
///   signature header once; a second one was added on the way (by a proxy
///   or an attacker), and choosing either would let the other decide.
///
/// An empty value is returned as is; the vendor's `verify` answers it with
/// [`Error::MissingSignature`].
pub(crate) fn signature<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<&'a HeaderValue, Error> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value),
        (None, _) => Err(Error::MissingSignature),
        (Some(_), Some(_)) => Err(Error::MalformedSignature),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{smartcomply, smarterwx};
    use http::header::HeaderName;

    const BODY: &[u8] = b"[]";

    fn map(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn kind(result: Result<(), Error>) -> String {
        match result {
            Ok(()) => "Ok".into(),
            Err(e) => e.kind().as_str().into(),
        }
    }

    #[test]
    fn one_value_is_found_whatever_the_case() {
        let mut headers = HeaderMap::new();
        headers.insert("X-SWX-Signature", HeaderValue::from_static("sha256=00"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        assert_eq!(
            signature(&headers, smarterwx::SIGNATURE_HEADER).unwrap(),
            "sha256=00"
        );
    }

    #[test]
    fn absent_empty_and_repeated() {
        let name = "x-test-signature";
        assert!(matches!(
            signature(&HeaderMap::new(), name),
            Err(Error::MissingSignature)
        ));
        assert!(matches!(
            signature(&map(&[("other", "v")]), name),
            Err(Error::MissingSignature)
        ));
        assert_eq!(signature(&map(&[(name, "")]), name).unwrap(), "");
        assert!(matches!(
            signature(&map(&[(name, "a"), (name, "a")]), name),
            Err(Error::MalformedSignature)
        ));
    }

    #[test]
    fn smarterwx_headers() {
        let secret = "swx-secret";
        let v = smarterwx::Verifier::new(secret).unwrap();
        let good = smarterwx::sign(secret, BODY);
        let bad = smarterwx::sign("other", BODY);
        let h = smarterwx::SIGNATURE_HEADER;
        let check = |pairs: &[(&'static str, &str)]| kind(v.verify_headers(&map(pairs), BODY));
        assert_eq!(check(&[(h, &good)]), "Ok");
        assert_eq!(check(&[(h, &bad)]), "SignatureMismatch");
        assert_eq!(check(&[]), "MissingSignature");
        assert_eq!(check(&[(h, "")]), "MissingSignature");
        assert_eq!(check(&[(h, &good), (h, &good)]), "MalformedSignature");
        assert_eq!(check(&[(h, &bad), (h, &good)]), "MalformedSignature");
        assert_eq!(
            v.verify_and_parse_headers(&map(&[(h, &good)]), BODY)
                .unwrap(),
            []
        );
    }

    #[test]
    fn smartcomply_headers() {
        let secret = "whsec_test";
        let v = smartcomply::Verifier::new(secret).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let body =
            br#"{"id":"evt_1","type":"x.new","created_at":"2026-05-05T15:10:00Z","data":{}}"#;
        let good = smartcomply::sign(secret, now, body);
        let old = smartcomply::sign(secret, now - time::Duration::hours(1), body);
        let h = smartcomply::SIGNATURE_HEADER;
        let check = |pairs: &[(&'static str, &str)]| kind(v.verify_headers(&map(pairs), body));
        assert_eq!(check(&[(h, &good)]), "Ok");
        assert_eq!(check(&[(h, &old)]), "TimestampTooOld");
        assert_eq!(check(&[("x-swx-signature", &good)]), "MissingSignature");
        assert_eq!(check(&[(h, &good), (h, &good)]), "MalformedSignature");
        let event = v
            .verify_and_parse_headers(&map(&[(h, &good)]), body)
            .unwrap();
        assert_eq!(event.id.as_str(), "evt_1");
        assert!(matches!(
            v.verify_and_parse_headers(&map(&[(h, &old)]), body),
            Err(Error::TimestampTooOld)
        ));
    }
}
