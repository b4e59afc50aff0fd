//! A [`Standard`] configuration from a server's discovered metadata
//! ([`ServerMetadata`]): its endpoints, its issuer, and a client authentication the
//! server supports. Discovery reads the metadata; this is the standard dialect's reading
//! of it.

use super::assertion::AssertionSource;
use super::authorization::IssParameter;
use super::discovery::{DiscoveryError, ServerMetadata};
use super::rfc6749::{ClientAuth, Standard, StandardBuilder};

/// A public client's method in RFC 8414 §2 metadata: no client authentication.
const NONE: &str = "none";

impl ServerMetadata {
    /// A [`Standard`] configuration for `client_id` at this server: its token endpoint,
    /// its revocation, device authorization and authorization endpoints if it has them
    /// (the issuer too, for RFC 9207 `iss`, required when the server says it sends it),
    /// the client secret if given, and a client authentication the server supports. Add
    /// the grant ([`Grant::DeviceCode`](crate::dialect::Grant::DeviceCode),
    /// [`Grant::AuthorizationCode`](crate::dialect::Grant::AuthorizationCode)…), scopes
    /// and anything else on the returned builder.
    ///
    /// A client with a secret authenticates with `client_secret_basic` if the token
    /// endpoint supports it, else with `client_secret_post`; when both are supported and
    /// the server lists the revocation endpoint's methods, one both endpoints take is
    /// preferred. A public client (no secret) needs the server to support `none`. When
    /// the server supports none of the client's methods, the error
    /// ([`DiscoveryError::UnsupportedClientAuth`]) says which it does support.
    ///
    /// The choice reads the server's list, not the client's registration: a client
    /// registered for `client_secret_post` at a server that supports both says so on the
    /// builder.
    ///
    /// ```
    /// # use oauth_lifecycle::dialect::discovery::Discovery;
    /// use oauth_lifecycle::dialect::ClientAuth;
    /// # let discovery = Discovery::new("https://a.example")?;
    /// # let response = http::Response::builder().status(200).body(
    /// #     br#"{"issuer":"https://a.example","token_endpoint":"https://a.example/token",
    /// #          "token_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post"]}"#
    /// #     .to_vec())?;
    /// let metadata = discovery.read(&response)?;
    /// let mut builder = metadata.standard("my-client", Some("s3cret"))?; // Basic
    /// if metadata.supports_token_endpoint_auth("client_secret_post") {
    ///     builder = builder.client_auth(ClientAuth::Post); // as the client is registered
    /// }
    /// let dialect = builder.build()?;
    /// assert_eq!(dialect.client_auth(), ClientAuth::Post);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn standard(
        &self,
        client_id: &str,
        client_secret: Option<&str>,
    ) -> Result<StandardBuilder, DiscoveryError> {
        let auth = self.client_auth(client_secret.is_some())?;
        let mut builder = self.endpoints(client_id);
        if let Some(secret) = client_secret {
            builder = builder.client_secret(secret);
        }
        if let Some(auth) = auth {
            builder = builder.client_auth(auth);
        }
        Ok(builder)
    }

    /// A [`Standard`] configuration for `client_id` at this server, as
    /// [`standard`](Self::standard) makes one, for a client that authenticates with
    /// assertions from `source` (`private_key_jwt` or `client_secret_jwt`, RFC 7523):
    /// refused ([`DiscoveryError::UnsupportedClientAuth`]) unless the token endpoint
    /// supports the source's method.
    pub fn standard_with_assertion(
        &self,
        client_id: &str,
        source: impl AssertionSource,
    ) -> Result<StandardBuilder, DiscoveryError> {
        if !self.supports_token_endpoint_auth(source.method().as_str()) {
            return Err(self.unsupported_client_auth(true));
        }
        Ok(self.endpoints(client_id).client_assertion(source))
    }

    /// The endpoints and issuer of this server for `client_id`.
    fn endpoints(&self, client_id: &str) -> StandardBuilder {
        let mut builder = Standard::builder(self.token_endpoint().uri().to_string(), client_id);
        if let Some(revocation) = self.revocation_endpoint() {
            builder = builder.revocation_url(revocation.uri().to_string());
        }
        if let Some(device) = self.device_authorization_endpoint() {
            builder = builder.device_authorization_url(device.uri().to_string());
        }
        if let Some(authorization) = self.authorization_endpoint() {
            let iss = if self.authorization_response_iss_parameter_supported() {
                IssParameter::Required
            } else {
                IssParameter::IfPresent
            };
            builder = builder
                .authorization_url(authorization.uri().to_string())
                .issuer(self.issuer(), iss);
        }
        builder
    }

    /// The client authentication for a client with or without a secret: `None` for a
    /// public one.
    pub(crate) fn client_auth(
        &self,
        with_secret: bool,
    ) -> Result<Option<ClientAuth>, DiscoveryError> {
        if !with_secret {
            return if self.supports_token_endpoint_auth(NONE) {
                Ok(None)
            } else {
                Err(self.unsupported_client_auth(false))
            };
        }
        let revocation_takes = |method: &str| {
            self.revocation_endpoint().is_none()
                || self
                    .revocation_endpoint_auth_methods_supported()
                    .iter()
                    .any(|m| m == method)
        };
        let mut supported = [ClientAuth::Basic, ClientAuth::Post]
            .map(|auth| (auth, auth.as_str()))
            .into_iter()
            .filter(|(_, method)| self.supports_token_endpoint_auth(method));
        let first = supported.next();
        let preferred = first
            .into_iter()
            .chain(supported)
            .find(|(_, method)| revocation_takes(method));
        match preferred.or(first) {
            Some((auth, _)) => Ok(Some(auth)),
            None => Err(self.unsupported_client_auth(true)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::discovery::Discovery;

    fn ok(body: &str) -> http::Response<Vec<u8>> {
        http::Response::builder()
            .status(200)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn the_choice_of_client_authentication() {
        let discovery = Discovery::new("https://a.example").unwrap();
        let metadata = |extra: &str| {
            discovery
                .read(&ok(&format!(
                    r#"{{"issuer":"https://a.example","token_endpoint":"https://a.example/t",
                        "revocation_endpoint":"https://a.example/r"{extra}}}"#
                )))
                .unwrap()
        };
        let both = r#","token_endpoint_auth_methods_supported":["client_secret_post","client_secret_basic","none"]"#;
        assert_eq!(
            metadata(both).client_auth(true),
            Ok(Some(ClientAuth::Basic))
        );
        assert_eq!(metadata(both).client_auth(false), Ok(None));
        let revocation_post = format!(
            r#"{both},"revocation_endpoint_auth_methods_supported":["client_secret_post"]"#
        );
        assert_eq!(
            metadata(&revocation_post).client_auth(true),
            Ok(Some(ClientAuth::Post))
        );
        let revocation_jwt =
            format!(r#"{both},"revocation_endpoint_auth_methods_supported":["private_key_jwt"]"#);
        assert_eq!(
            metadata(&revocation_jwt).client_auth(true),
            Ok(Some(ClientAuth::Basic))
        );
        // A client with a key: only where the server takes its method.
        let source = || {
            crate::dialect::assertion::from_fn("test", |_| {
                Err(crate::dialect::assertion::AssertionError::Unavailable {
                    reason: "unused".into(),
                })
            })
        };
        let jwt = r#","token_endpoint_auth_methods_supported":["private_key_jwt"]"#;
        let dialect = metadata(jwt)
            .standard_with_assertion("c", source())
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(dialect.client_auth(), ClientAuth::PrivateKeyJwt);
        assert!(matches!(
            metadata(both).standard_with_assertion("c", source()),
            Err(DiscoveryError::UnsupportedClientAuth { .. })
        ));
        // Omitted: client_secret_basic only, so a public client is refused.
        assert_eq!(
            metadata("").client_auth(false),
            Err(DiscoveryError::UnsupportedClientAuth {
                with_secret: false,
                supported: vec!["client_secret_basic".into()],
                more: 0
            })
        );
    }
}
