//! PEM (RFC 7468) private key blocks, decoded and encoded in wiped buffers.
//!
//! Written here rather than taken from `rustls-pki-types` so that every intermediate
//! buffer (the base64 body, the DER) is one this crate wipes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::KeyError;

/// What a PEM private key block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PemKind {
    /// `PRIVATE KEY`: PKCS#8 `PrivateKeyInfo` (RFC 5208, RFC 5958).
    Pkcs8,
    /// `RSA PRIVATE KEY`: PKCS#1 `RSAPrivateKey` (RFC 8017).
    Pkcs1,
    /// `EC PRIVATE KEY`: SEC1 `ECPrivateKey` (RFC 5915).
    Sec1,
}

impl PemKind {
    pub(crate) fn format(self) -> &'static str {
        match self {
            PemKind::Pkcs8 => "PKCS#8",
            PemKind::Pkcs1 => "PKCS#1",
            PemKind::Sec1 => "SEC1",
        }
    }
}

/// The first private key block of a PEM text, decoded. Blocks before it that hold no
/// private key (`EC PARAMETERS`, a certificate) are skipped; when there is no private key
/// block, the error names what there was instead.
pub(crate) fn decode(text: &[u8]) -> Result<(PemKind, Zeroizing<Vec<u8>>), KeyError> {
    let not_pem = |reason| KeyError::NotPem { reason };
    let text = std::str::from_utf8(text).map_err(|_| not_pem("it is not text"))?;
    let mut rest = text;
    let mut other: Option<&'static str> = None;
    loop {
        let Some(start) = rest.find("-----BEGIN ") else {
            return Err(match other {
                Some(what) => KeyError::UnsupportedKey { what: what.into() },
                None => not_pem("no `-----BEGIN` line"),
            });
        };
        let after = &rest[start + "-----BEGIN ".len()..];
        let Some(label_end) = after.find("-----") else {
            return Err(not_pem("a `-----BEGIN` line is not closed"));
        };
        let label = &after[..label_end];
        let body_and_rest = &after[label_end + "-----".len()..];
        let end_line = format!("-----END {label}-----");
        let Some(body_end) = body_and_rest.find(&end_line) else {
            return Err(not_pem("a block has no matching `-----END` line"));
        };
        let body = &body_and_rest[..body_end];
        rest = &body_and_rest[body_end + end_line.len()..];
        let kind = match label {
            "PRIVATE KEY" => PemKind::Pkcs8,
            "RSA PRIVATE KEY" => PemKind::Pkcs1,
            "EC PRIVATE KEY" => PemKind::Sec1,
            "ENCRYPTED PRIVATE KEY" => return Err(KeyError::Encrypted),
            "OPENSSH PRIVATE KEY" => {
                return Err(KeyError::UnsupportedKey {
                    what: "an OpenSSH private key (convert it with `ssh-keygen -p -m PKCS8`)"
                        .into(),
                })
            }
            "PUBLIC KEY" | "RSA PUBLIC KEY" => {
                other.get_or_insert("a public key, not a private key");
                continue;
            }
            "CERTIFICATE" => {
                other.get_or_insert("a certificate, not a private key");
                continue;
            }
            _ => {
                other.get_or_insert("a PEM block that holds no private key");
                continue;
            }
        };
        // RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`) mark a legacy encrypted key.
        if body.contains(':') {
            return Err(KeyError::Encrypted);
        }
        return Ok((
            kind,
            decode_base64(body, STANDARD).map_err(|_| not_pem("its body is not base64"))?,
        ));
    }
}

/// Decodes base64 text, skipping whitespace, into a wiped buffer that is never
/// reallocated.
pub(crate) fn decode_base64(
    text: &str,
    engine: impl base64::Engine,
) -> Result<Zeroizing<Vec<u8>>, base64::DecodeSliceError> {
    let mut compact = Zeroizing::new(Vec::with_capacity(text.len()));
    compact.extend(text.bytes().filter(|b| !b.is_ascii_whitespace()));
    let mut out = Zeroizing::new(vec![0u8; compact.len() / 4 * 3 + 3]);
    let len = engine.decode_slice(&*compact, &mut out)?;
    out.truncate(len);
    Ok(out)
}

/// A PKCS#8 DER key as a `PRIVATE KEY` PEM block, 64 columns, in a wiped string that is
/// never reallocated.
pub(crate) fn encode_pkcs8(der: &[u8]) -> Zeroizing<String> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----\n";
    const END: &str = "-----END PRIVATE KEY-----\n";
    let body_len = der.len().div_ceil(3) * 4;
    let mut body = Zeroizing::new(String::with_capacity(body_len));
    STANDARD.encode_string(der, &mut body);
    let lines = body.len().div_ceil(64);
    let mut pem = Zeroizing::new(String::with_capacity(
        BEGIN.len() + body.len() + lines + END.len(),
    ));
    pem.push_str(BEGIN);
    let mut remaining: &str = &body;
    while !remaining.is_empty() {
        let (line, next) = remaining.split_at(remaining.len().min(64));
        pem.push_str(line);
        pem.push('\n');
        remaining = next;
    }
    pem.push_str(END);
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_round_trips_and_others_are_skipped() {
        let der: Vec<u8> = (0..=255).collect();
        let pem = encode_pkcs8(&der);
        assert!(pem.lines().all(|line| line.len() <= 64));
        let text = format!(
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}",
            &*pem
        );
        let (kind, decoded) = decode(text.as_bytes()).unwrap();
        assert_eq!(kind, PemKind::Pkcs8);
        assert_eq!(&*decoded, &der);
    }

    #[test]
    fn broken_blocks_are_typed_errors() {
        type Check = fn(&KeyError) -> bool;
        let cases: [(&str, Check); 7] = [
            ("", |e| matches!(e, KeyError::NotPem { .. })),
            ("-----BEGIN PRIVATE KEY", |e| matches!(e, KeyError::NotPem { .. })),
            ("-----BEGIN PRIVATE KEY-----\nAAAA\n", |e| matches!(e, KeyError::NotPem { .. })),
            ("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n", |e| matches!(e, KeyError::NotPem { .. })),
            ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", |e| *e == KeyError::Encrypted),
            ("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END RSA PRIVATE KEY-----\n", |e| *e == KeyError::Encrypted),
            ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", |e| matches!(e, KeyError::UnsupportedKey { .. })),
        ];
        for (text, expected) in cases {
            let error = decode(text.as_bytes()).unwrap_err();
            assert!(expected(&error), "{text:?}: {error:?}");
        }
    }
}
