//! Which `aud` an assertion names.

/// The audience an assertion names (`aud`, RFC 7523 §3). Servers differ: most accept the
/// token endpoint's URL, which RFC 7523 names; some (OpenID Connect providers among them)
/// also accept, or want, their issuer identifier.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AssertionAudience {
    /// The token endpoint's URL, on every request (revocation and device authorization
    /// included). The default.
    #[default]
    TokenEndpoint,
    /// The issuer identifier configured on the dialect
    /// ([`StandardBuilder::issuer`](crate::dialect::StandardBuilder::issuer)).
    Issuer,
    /// This value, as the server documents it.
    Custom(String),
}
