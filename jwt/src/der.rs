//! Just enough DER to read an RSA public key's modulus and exponent from the
//! `RSAPublicKey` structure (RFC 8017 §A.1.1) aws-lc-rs encodes. The input is aws-lc's
//! own output, a public key; every read is bounds-checked and fails with `None`.

/// `n` and `e` of a DER `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent
/// INTEGER }`, big-endian without leading zeros.
pub(crate) fn rsa_public_components(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (sequence, rest) = element(der, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (n, rest) = element(sequence, 0x02)?;
    let (e, rest) = element(rest, 0x02)?;
    if !rest.is_empty() {
        return None;
    }
    Some((unsigned(n)?, unsigned(e)?))
}

/// One element with `tag`: its contents and what follows it.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let len = bytes
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

/// A positive INTEGER's contents without the sign byte.
fn unsigned(integer: &[u8]) -> Option<&[u8]> {
    match integer {
        [] => None,
        [first, ..] if first & 0x80 != 0 => None,
        [0, rest @ ..] if !rest.is_empty() => Some(rest),
        _ => Some(integer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_public_key_and_refuses_anything_else() {
        // SEQUENCE { INTEGER 0x00c1, INTEGER 0x010001 }
        let der = [
            0x30, 0x09, 0x02, 0x02, 0x00, 0xc1, 0x02, 0x03, 0x01, 0x00, 0x01,
        ];
        assert_eq!(
            rsa_public_components(&der),
            Some((&[0xc1][..], &[1, 0, 1][..]))
        );
        for bad in [
            &der[..5],
            &[0x31, 0x00][..],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff][..],
            &[0x30, 0x04, 0x02, 0x01, 0x80, 0x00][..],
            &[0x30, 0x80][..],
            &[][..],
        ] {
            assert_eq!(rsa_public_components(bad), None, "{bad:?}");
        }
    }
}

/// The object identifiers this crate tells keys apart by, as DER contents.
pub(crate) mod oid {
    /// rsaEncryption, 1.2.840.113549.1.1.1.
    pub(crate) const RSA_ENCRYPTION: &[u8] =
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    /// id-RSASSA-PSS, 1.2.840.113549.1.1.10.
    pub(crate) const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
    /// id-ecPublicKey, 1.2.840.10045.2.1.
    pub(crate) const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    /// secp256r1 (P-256), 1.2.840.10045.3.1.7.
    pub(crate) const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    /// secp384r1 (P-384), 1.3.132.0.34.
    pub(crate) const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    /// secp521r1 (P-521), 1.3.132.0.35.
    pub(crate) const P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
    /// secp256k1, 1.3.132.0.10.
    pub(crate) const SECP256K1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x0a];
    /// id-X25519, 1.3.101.110.
    pub(crate) const X25519: &[u8] = &[0x2b, 0x65, 0x6e];
    /// id-X448, 1.3.101.111.
    pub(crate) const X448: &[u8] = &[0x2b, 0x65, 0x6f];
    /// id-Ed25519, 1.3.101.112.
    pub(crate) const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    /// id-Ed448, 1.3.101.113.
    pub(crate) const ED448: &[u8] = &[0x2b, 0x65, 0x71];
}

/// The algorithm of a PKCS#8 `PrivateKeyInfo` (RFC 5208, RFC 5958): its OID and, for an
/// EC key, the named curve's OID. Only the structure's head is read; the key itself is
/// left to aws-lc.
pub(crate) fn pkcs8_algorithm(der: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let (info, _) = element(der, 0x30)?;
    let (_version, rest) = element(info, 0x02)?;
    let (identifier, _) = element(rest, 0x30)?;
    let (algorithm, parameters) = element(identifier, 0x06)?;
    let curve = element(parameters, 0x06).map(|(curve, _)| curve);
    Some((algorithm, curve))
}

/// The named curve of a SEC1 `ECPrivateKey` (RFC 5915), when it names one.
pub(crate) fn sec1_curve(der: &[u8]) -> Option<&[u8]> {
    let (key, _) = element(der, 0x30)?;
    let (_version, rest) = element(key, 0x02)?;
    let (_private, rest) = element(rest, 0x04)?;
    let (parameters, _) = element(rest, 0xa0)?;
    element(parameters, 0x06).map(|(curve, _)| curve)
}
