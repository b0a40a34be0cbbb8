//! The signature as a verifier takes it: a header value, or (feature
//! `http`) the whole `http::HeaderMap`, through one sealed trait shared by
//! every vendor.
//!
//! This module knows no vendor: a vendor module names its header, and the
//! input gives the one value to check.

use crate::error::Error;

/// What a verifier takes as the signature: the header's value, or, with
/// the `http` feature, the request's whole `http::HeaderMap`, in which the
/// verifier looks up its vendor's header.
///
/// Implemented for header values as bytes or text (`&[u8]`, `&[u8; N]`,
/// `&str`, `String`, `Vec<u8>`), for `http::HeaderValue` and
/// `http::HeaderMap` (feature `http`), and for references to any of them.
/// It is sealed: the crate decides how each input is read.
///
/// From a `HeaderMap`:
///
/// - no such header: [`Error::MissingSignature`];
/// - more than one: [`Error::MalformedSignature`]. A vendor sends its
///   signature header once; a second one was added on the way (by a proxy
///   or an attacker), and choosing either would let the other decide.
///
/// An empty value is [`Error::MissingSignature`] too, whichever the input.
pub trait SignatureInput: sealed::Sealed {
    /// The header value to check, given the vendor's header name.
    #[doc(hidden)]
    fn signature_value(&self, header_name: &'static str) -> Result<&[u8], Error>;
}

mod sealed {
    /// Only the crate implements [`super::SignatureInput`].
    pub trait Sealed {}
}

/// Header values as bytes: the value is the signature.
macro_rules! value_inputs {
    ($($ty:ty),+) => {$(
        impl sealed::Sealed for $ty {}

        impl SignatureInput for $ty {
            fn signature_value(&self, _: &'static str) -> Result<&[u8], Error> {
                Ok(self.as_ref())
            }
        }
    )+};
}

value_inputs!([u8], str, String, Vec<u8>);

impl<const N: usize> sealed::Sealed for [u8; N] {}

impl<const N: usize> SignatureInput for [u8; N] {
    fn signature_value(&self, _: &'static str) -> Result<&[u8], Error> {
        Ok(self)
    }
}

impl<T: SignatureInput + ?Sized> sealed::Sealed for &T {}

impl<T: SignatureInput + ?Sized> SignatureInput for &T {
    fn signature_value(&self, header_name: &'static str) -> Result<&[u8], Error> {
        (**self).signature_value(header_name)
    }
}

#[cfg(feature = "http")]
value_inputs!(http::HeaderValue);

#[cfg(feature = "http")]
impl sealed::Sealed for http::HeaderMap {}

#[cfg(feature = "http")]
impl SignatureInput for http::HeaderMap {
    fn signature_value(&self, header_name: &'static str) -> Result<&[u8], Error> {
        let mut values = self.get_all(header_name).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => Ok(value.as_bytes()),
            (None, _) => Err(Error::MissingSignature),
            (Some(_), Some(_)) => Err(Error::MalformedSignature),
        }
    }
}

#[cfg(all(test, feature = "http"))]
mod tests {
    use super::*;
    use crate::{smartcomply, smarterwx};
    use http::header::HeaderName;
    use http::{HeaderMap, HeaderValue};

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
            headers
                .signature_value(smarterwx::SIGNATURE_HEADER)
                .unwrap(),
            b"sha256=00"
        );
    }

    #[test]
    fn absent_empty_and_repeated() {
        let name = "x-test-signature";
        assert!(matches!(
            HeaderMap::new().signature_value(name),
            Err(Error::MissingSignature)
        ));
        assert!(matches!(
            map(&[("other", "v")]).signature_value(name),
            Err(Error::MissingSignature)
        ));
        assert_eq!(map(&[(name, "")]).signature_value(name).unwrap(), b"");
        assert!(matches!(
            map(&[(name, "a"), (name, "a")]).signature_value(name),
            Err(Error::MalformedSignature)
        ));
    }

    #[test]
    fn every_input_gives_its_value() {
        let value = "sha256=00";
        let name = "x-swx-signature";
        let owned = String::from(value);
        let header = HeaderValue::from_static("sha256=00");
        let inputs: [&dyn SignatureInput; 8] = [
            &value,
            &owned,
            &value.as_bytes(),
            b"sha256=00",
            &value.as_bytes().to_vec(),
            &header,
            &&header,
            &map(&[(name, value)]),
        ];
        for input in inputs {
            assert_eq!(input.signature_value(name).unwrap(), value.as_bytes());
        }
    }

    #[test]
    fn smarterwx_headers() {
        let secret = "swx-secret";
        let v = smarterwx::Verifier::new(secret).unwrap();
        let good = smarterwx::sign(secret, BODY);
        let bad = smarterwx::sign("other", BODY);
        let h = smarterwx::SIGNATURE_HEADER;
        let check = |pairs: &[(&'static str, &str)]| kind(v.verify(map(pairs), BODY));
        assert_eq!(check(&[(h, &good)]), "Ok");
        assert_eq!(check(&[(h, &bad)]), "SignatureMismatch");
        assert_eq!(check(&[]), "MissingSignature");
        assert_eq!(check(&[(h, "")]), "MissingSignature");
        assert_eq!(check(&[(h, &good), (h, &good)]), "MalformedSignature");
        assert_eq!(check(&[(h, &bad), (h, &good)]), "MalformedSignature");
        assert_eq!(v.verify_and_parse(map(&[(h, &good)]), BODY).unwrap(), []);
        assert_eq!(
            v.verify_and_parse_each(map(&[(h, &good)]), BODY).unwrap(),
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
        let check = |pairs: &[(&'static str, &str)]| kind(v.verify(map(pairs), body));
        assert_eq!(check(&[(h, &good)]), "Ok");
        assert_eq!(check(&[(h, &old)]), "TimestampTooOld");
        assert_eq!(check(&[("x-swx-signature", &good)]), "MissingSignature");
        assert_eq!(check(&[(h, &good), (h, &good)]), "MalformedSignature");
        let event = v.verify_and_parse(map(&[(h, &good)]), body).unwrap();
        assert_eq!(event.id.as_str(), "evt_1");
        let at = v.verify_and_parse_at(map(&[(h, &old)]), body, now - time::Duration::hours(1));
        assert_eq!(at.unwrap().id.as_str(), "evt_1");
        assert!(matches!(
            v.verify_and_parse(map(&[(h, &old)]), body),
            Err(Error::TimestampTooOld)
        ));
    }
}
